//! Storage for containers (seed 001 step 8): bind mounts, named and anonymous volumes, tmpfs,
//! `--volumes-from`, `--read-only` — with real containers, as a user runs them.

mod common;

use std::path::Path;

use common::archive::{busybox_layer, docker_archive};
use common::{eventually, mounts_under, within, Env, PATIENCE};

fn volume_names(env: &Env) -> Vec<String> {
    let r = env.run(&["volume", "ls", "-q"]);
    r.ok();
    r.stdout.lines().map(str::to_string).collect()
}

#[test]
fn a_bind_mount_shows_host_files_and_ro_is_enforced() {
    let env = Env::new("bind");
    let src = env.dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("hello.txt"), "from the host\n").unwrap();
    let spec = format!("{}:/src:ro", src.display());
    let r = env.run(&["run", "--rm", "-v", &spec, "-w", "/src", "busybox", "ls"]);
    assert_eq!(r.ok().stdout, "hello.txt\n");
    let r = env.run(&["run", "--rm", "-v", &spec, "busybox", "touch", "/src/x"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("Read-only file system"), "{}", r.stderr);
    assert!(!src.join("x").exists());

    // Read-write: the container's write lands on the host.
    let spec = format!("{}:/src", src.display());
    env.run(&[
        "run",
        "--rm",
        "-v",
        &spec,
        "busybox",
        "sh",
        "-c",
        "echo back > /src/out",
    ])
    .ok();
    assert_eq!(std::fs::read_to_string(src.join("out")).unwrap(), "back\n");

    // --mount, read-only.
    let m = format!(
        "type=bind,source={},target=/hostetc,readonly",
        src.display()
    );
    let r = env.run(&[
        "run",
        "--rm",
        "--mount",
        &m,
        "busybox",
        "sh",
        "-c",
        "cat /hostetc/hello.txt; touch /hostetc/y",
    ]);
    assert_eq!(r.stdout, "from the host\n");
    assert!(r.stderr.contains("Read-only file system"), "{}", r.stderr);

    let c = env.name("kept");
    env.run(&[
        "create", "--name", &c, "--mount", &m, "-v", &spec, "busybox", "true",
    ])
    .ok();
    let doc = env.inspect(&c);
    let hc = &doc["HostConfig"];
    assert_eq!(hc["Mounts"][0]["Type"], "bind");
    assert_eq!(hc["Mounts"][0]["Target"], "/hostetc");
    assert_eq!(hc["Mounts"][0]["ReadOnly"], true);
    assert_eq!(hc["Binds"][0], spec.as_str());
    let mounts = doc["Mounts"].as_array().unwrap();
    let bind = mounts
        .iter()
        .find(|m| m["Destination"] == "/hostetc")
        .unwrap();
    assert_eq!(bind["Source"], src.display().to_string());
    assert_eq!(
        (&bind["RW"], &bind["Propagation"]),
        (&false.into(), &"rprivate".into())
    );
    env.run(&["rm", &c]).ok();

    // -v creates a missing source directory, as docker does.
    let missing = env.dir.join("made/by/v");
    let spec = format!("{}:/m", missing.display());
    env.run(&["run", "--rm", "-v", &spec, "busybox", "true"])
        .ok();
    assert!(missing.is_dir());
    // Nothing is mounted on the host: the mounts live in the container's namespace.
    assert!(mounts_under(&env.dir).is_empty());
}

/// A tmpfs mounted on a directory for one test, unmounted when the test ends (before its `Env`).
struct Mounted(std::path::PathBuf);

impl Mounted {
    fn tmpfs(dir: &Path) -> Mounted {
        std::fs::create_dir_all(dir).unwrap();
        let r = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "tmpfs"])
            .arg(dir)
            .status()
            .unwrap();
        assert!(r.success(), "mount -t tmpfs on {}", dir.display());
        Mounted(dir.to_path_buf())
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_read_only_bind_is_read_only_in_its_submounts_too() {
    let env = Env::new("rro");
    let src = env.dir.join("src");
    let _sub = Mounted::tmpfs(&src.join("sub"));
    let write = "touch /r/top 2>&1; touch /r/sub/below 2>&1; true";

    // -v SRC:/r:ro: both the bind and the tmpfs below it are read-only (EROFS).
    let spec = format!("{}:/r:ro", src.display());
    let r = env.run(&["run", "--rm", "-v", &spec, "busybox", "sh", "-c", write]);
    let out = &r.ok().stdout;
    assert_eq!(out.matches("Read-only file system").count(), 2, "{out}");
    assert!(!src.join("sub/below").exists());

    // runc (≥ 1.1) reads the same `rro` from config.json.
    let r = env.run(&[
        "run",
        "--rm",
        "--runtime",
        "runc",
        "-v",
        &spec,
        "busybox",
        "sh",
        "-c",
        write,
    ]);
    assert_eq!(r.ok().stdout.matches("Read-only file system").count(), 2);

    // --mount …,readonly does the same.
    let m = format!("type=bind,source={},target=/r,readonly", src.display());
    let r = env.run(&["run", "--rm", "--mount", &m, "busybox", "sh", "-c", write]);
    assert_eq!(r.ok().stdout.matches("Read-only file system").count(), 2);

    // bind-recursive=writable (docker's readonly-non-recursive): read-only at the top only.
    let m = format!("{m},bind-recursive=writable");
    let r = env.run(&["run", "--rm", "--mount", &m, "busybox", "sh", "-c", write]);
    assert_eq!(r.ok().stdout.matches("Read-only file system").count(), 1);
    assert!(src.join("sub/below").exists());

    // -v /:/host:ro: /host/proc, /host/sys, /host/dev and every other submount read-only.
    let list =
        "awk '$5 ~ \"^/host/\" { split($6, o, \",\"); print $5, o[1] }' /proc/self/mountinfo";
    let r = env.run(&[
        "run",
        "--rm",
        "-v",
        "/:/host:ro",
        "busybox",
        "sh",
        "-c",
        list,
    ]);
    let out = &r.ok().stdout;
    for sub in ["/host/proc ", "/host/sys ", "/host/dev "] {
        assert!(out.contains(sub), "{sub} is not mounted in:\n{out}");
    }
    let writable: Vec<&str> = out.lines().filter(|l| !l.ends_with(" ro")).collect();
    assert!(writable.is_empty(), "writable below /host: {writable:?}");
}

#[test]
fn a_named_volume_outlives_its_containers_and_is_refused_for_rm_while_in_use() {
    let env = Env::new("named");
    let data = env.name("data");
    assert_eq!(
        env.run(&["volume", "create", &data]).ok().stdout.trim(),
        data
    );
    let spec = format!("{data}:/data");
    env.run(&[
        "run",
        "--rm",
        "-v",
        &spec,
        "busybox",
        "sh",
        "-c",
        "echo 1 > /data/x",
    ])
    .ok();
    let r = env.run(&["run", "--rm", "-v", &spec, "busybox", "cat", "/data/x"]);
    assert_eq!(r.ok().stdout, "1\n");

    let r = env.run(&["volume", "inspect", &data]);
    let v: serde_json::Value = serde_json::from_str(&r.ok().stdout).unwrap();
    assert_eq!(v[0]["Name"], data.as_str());
    assert_eq!(v[0]["Driver"], "local");
    let mountpoint = v[0]["Mountpoint"].as_str().unwrap().to_string();
    assert!(
        mountpoint.ends_with(&format!("volumes/{data}/_data")),
        "{mountpoint}"
    );
    let r = env.run(&["volume", "ls"]);
    assert!(
        r.ok().stdout.starts_with("DRIVER    VOLUME NAME\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&format!("local     {data}\n")),
        "{}",
        r.stdout
    );

    // In use by a container (even one not running): refused, with the container's id.
    let c = env.name("user");
    let id = env.run(&["create", "--name", &c, "-v", &spec, "busybox", "true"]);
    let id = id.ok().stdout.trim().to_string();
    let r = env.run(&["volume", "rm", &data]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr.trim(),
        format!("ctrace: remove {data}: volume is in use - [{id}]")
    );
    assert!(Path::new(&mountpoint).join("x").exists());
    let mounts = &env.inspect(&c)["Mounts"];
    assert_eq!(mounts[0]["Type"], "volume");
    assert_eq!(mounts[0]["Name"], data.as_str());
    assert_eq!(mounts[0]["Source"], mountpoint.as_str());
    assert_eq!(mounts[0]["Destination"], "/data");
    assert_eq!(mounts[0]["RW"], true);

    // rm -v keeps named volumes; then the volume can go.
    env.run(&["rm", "-v", &c]).ok();
    assert_eq!(volume_names(&env), [data.as_str()]);
    assert_eq!(env.run(&["volume", "rm", &data]).ok().stdout.trim(), data);
    assert!(volume_names(&env).is_empty());
    let r = env.run(&["volume", "inspect", &data]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no such volume"), "{}", r.stderr);
}

#[test]
fn volumes_from_shares_an_anonymous_volume_and_rm_v_removes_it() {
    let env = Env::new("volumes_from");
    let db = env.name("db");
    let named = env.name("keep");
    let keep = format!("{named}:/keep");
    env.run(&[
        "run",
        "-d",
        "--name",
        &db,
        "-v",
        "/var/lib/db",
        "-v",
        &keep,
        "busybox",
        "sh",
        "-c",
        "echo row > /var/lib/db/table; sleep 1000",
    ])
    .ok();
    let vols = volume_names(&env);
    assert_eq!(vols.len(), 2, "{vols:?}");
    let anon = vols.iter().find(|v| **v != named).unwrap().clone();
    assert_eq!(anon.len(), 64, "anonymous volumes get 64-hex names: {anon}");

    // db writes its row once it runs: read until it is there.
    let read = || {
        env.run(&[
            "run",
            "--rm",
            "--volumes-from",
            &db,
            "busybox",
            "cat",
            "/var/lib/db/table",
        ])
        .stdout
    };
    eventually(|| read() == "row\n", PATIENCE);
    // :ro shares read-only.
    let from = format!("{db}:ro");
    let r = env.run(&[
        "run",
        "--rm",
        "--volumes-from",
        &from,
        "busybox",
        "touch",
        "/var/lib/db/x",
    ]);
    assert!(r.stderr.contains("Read-only file system"), "{}", r.stderr);

    // The anonymous volume is in use by db; rm -f -v removes it, the named one stays.
    let r = env.run(&["volume", "rm", &anon]);
    assert!(r.stderr.contains("volume is in use"), "{}", r.stderr);
    let r = env.run(&["volume", "ls", "-q", "-f", "dangling=true"]);
    assert_eq!(r.ok().stdout, "", "both are in use by db");
    let r = env.run(&[
        "volume",
        "ls",
        "-q",
        "-f",
        "label=com.docker.volume.anonymous",
    ]);
    assert_eq!(r.ok().stdout, format!("{anon}\n"));
    env.run(&["rm", "-f", "-v", &db]).ok();
    assert_eq!(volume_names(&env), [named.as_str()]);

    // --rm removes the anonymous volumes too.
    env.run(&["run", "--rm", "-v", "/scratch", "busybox", "true"])
        .ok();
    // The shim removes an exited --rm container just after the exit.
    eventually(|| volume_names(&env).len() == 1, PATIENCE);
    assert_eq!(volume_names(&env), [named.as_str()]);

    // prune: anonymous unused ones only; -a also the named ones.
    env.run(&["create", "-v", "/left", "busybox", "true"]).ok();
    let id = env.ids().pop().unwrap();
    env.run(&["rm", &id]).ok();
    assert_eq!(volume_names(&env).len(), 2);
    let r = env.run(&["volume", "prune", "-f"]);
    assert!(
        r.ok().stdout.starts_with("Deleted Volumes:\n"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("Total reclaimed space:"), "{}", r.stdout);
    assert_eq!(volume_names(&env), [named.as_str()]);
    // Without -f, no answer means no.
    env.run(&["volume", "prune", "-a"]).ok();
    assert_eq!(volume_names(&env), [named.as_str()]);
    env.run(&["volume", "prune", "-a", "-f"]).ok();
    assert!(volume_names(&env).is_empty());
}

#[test]
fn tmpfs_size_is_enforced_and_read_only_rootfs_refuses_writes() {
    let env = Env::new("tmpfs");
    let r = env.run(&[
        "run",
        "--rm",
        "--tmpfs",
        "/run:size=1m,mode=1777",
        "busybox",
        "sh",
        "-c",
        "stat -c %a /run; df -k /run | tail -1; dd if=/dev/zero of=/run/f bs=1k count=2048",
    ]);
    let mut lines = r.stdout.lines();
    assert_eq!(lines.next(), Some("1777"), "{}", r.stdout);
    assert!(lines.next().unwrap().contains(" 1024 "), "{}", r.stdout);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("No space left on device"), "{}", r.stderr);

    let r = env.run(&[
        "run",
        "--rm",
        "--mount",
        "type=tmpfs,target=/t,tmpfs-size=2m",
        "busybox",
        "sh",
        "-c",
        "df -k /t | tail -1",
    ]);
    assert!(r.ok().stdout.contains(" 2048 "), "{}", r.stdout);

    // --read-only: the rootfs refuses writes; a tmpfs and a volume on it do not.
    let r = env.run(&["run", "--rm", "--read-only", "busybox", "touch", "/x"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("Read-only file system"), "{}", r.stderr);
    let r = env.run(&[
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/tmp",
        "-v",
        "/vol",
        "busybox",
        "sh",
        "-c",
        "touch /tmp/a /vol/b && echo ok",
    ]);
    assert_eq!(r.ok().stdout, "ok\n");
    assert!(env.ids().is_empty(), "--rm removed every container");
}

#[test]
fn bad_mounts_are_refused_with_docker_errors_and_change_nothing() {
    let env = Env::new("bad_mounts");
    // Build the busybox image first: its one-time notice is not part of what is checked here.
    env.run(&["run", "--rm", "busybox", "true"]).ok();
    let real = env.dir.display().to_string();
    let dup1 = format!("{real}:/x");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--mount", "type=bind,source=rel/dir,target=/x"],
            "mount path must be absolute",
        ),
        (
            vec!["--mount", "type=bind,source=/no/such/dir,target=/x"],
            "bind source path does not exist: /no/such/dir",
        ),
        (
            vec!["-v", &dup1, "--tmpfs", "/x"],
            "Duplicate mount point: /x",
        ),
        (vec!["-v", "data:rel"], "mount path must be absolute"),
        (
            vec!["-v", "rel/dir:/x"],
            "includes invalid characters for a local volume name",
        ),
        (
            vec![
                "--mount",
                "type=volume,source=v1,target=/v,volume-driver=nfs",
            ],
            "error looking up volume plugin nfs",
        ),
        (
            vec!["--mount", "type=bind,target=/x"],
            "field Source must not be empty",
        ),
        (
            vec!["--volumes-from", "nosuchcontainer"],
            "no such container",
        ),
        (
            vec!["--tmpfs", "/run:bogus"],
            "invalid tmpfs option \"bogus\"",
        ),
    ];
    for (flags, want) in cases {
        let mut args = vec!["run", "--rm", "--name", "bad-mount"];
        args.extend(&flags);
        args.extend(["busybox", "true"]);
        let r = env.run(&args);
        assert_eq!(r.code, 125, "{flags:?}: {}", r.stderr);
        assert_eq!(
            r.stderr
                .lines()
                .filter(|l| l.starts_with("ctrace: "))
                .count(),
            1,
            "{}",
            r.stderr
        );
        assert!(
            r.stderr.contains(want),
            "{flags:?}: want {want:?}, got {}",
            r.stderr
        );
        assert!(env.ids().is_empty(), "{flags:?} left a container");
        assert!(volume_names(&env).is_empty(), "{flags:?} left a volume");
        assert!(
            !env.root.join("names/bad-mount").exists(),
            "{flags:?} kept the name"
        );
    }
    let r = env.run(&["volume", "create", "-d", "nfs", "v2"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("plugin \"nfs\" not found"),
        "{}",
        r.stderr
    );
    assert!(volume_names(&env).is_empty());
}

/// A docker-save tarball of busybox with a file at /seed/hello and `VOLUME /seed`.
fn image_with_a_volume(dir: &Path) -> std::path::PathBuf {
    let layer = busybox_layer(
        &["sh", "cat", "ls"],
        &[("seed/hello", b"seeded by the image\n")],
    );
    docker_archive(
        &dir.join("seeded.tar"),
        "test/seeded:1",
        serde_json::json!({"Cmd": ["sh"], "Volumes": {"/seed": {}}, "Env": ["PATH=/bin"]}),
        &layer,
    )
}

#[test]
fn an_image_volume_gets_an_anonymous_volume_filled_from_the_image() {
    let env = Env::new("image_volume");
    let tar = image_with_a_volume(&env.dir);
    env.run(&["image", "import", tar.to_str().unwrap()]).ok();
    let c = env.name("seeded");
    let r = env.run(&["run", "--name", &c, "test/seeded:1", "cat", "/seed/hello"]);
    assert_eq!(r.ok().stdout, "seeded by the image\n");
    let vols = volume_names(&env);
    assert_eq!(vols.len(), 1, "{vols:?}");
    let data = env.root.join("volumes").join(&vols[0]).join("_data/hello");
    assert!(
        data.is_file(),
        "the image's files were copied into the volume"
    );
    let mounts = &env.inspect(&c)["Mounts"];
    assert_eq!(mounts[0]["Destination"], "/seed");
    assert_eq!(mounts[0]["Type"], "volume");

    // Named volume over the image's VOLUME: the image's files are copied into it once.
    let named = format!("{}:/seed", env.name("named"));
    let r = env.run(&["run", "--rm", "-v", &named, "test/seeded:1", "ls", "/seed"]);
    assert_eq!(r.ok().stdout, "hello\n");
    // nocopy: left empty.
    let empty = format!("{}:/seed:nocopy", env.name("empty"));
    let r = env.run(&["run", "--rm", "-v", &empty, "test/seeded:1", "ls", "/seed"]);
    assert_eq!(r.ok().stdout, "");

    env.run(&["rm", "-v", &c]).ok();
    assert_eq!(
        volume_names(&env).len(),
        2,
        "only the anonymous volume goes"
    );
}

#[test]
fn runc_gets_the_same_mounts() {
    let env = Env::new("runc_mounts");
    let src = env.dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("f"), "host\n").unwrap();
    let bind = format!("{}:/src:ro", src.display());
    let vol = format!("{}:/data", env.name("data"));
    let r = env.run(&[
        "run",
        "--rm",
        "--runtime",
        "runc",
        "-v",
        &bind,
        "-v",
        &vol,
        "--tmpfs",
        "/t:size=1m",
        "busybox",
        "sh",
        "-c",
        "cat /src/f; echo v > /data/v; df -k /t | tail -1; touch /src/x 2>/dev/null || echo ro",
    ]);
    let out = r.ok().stdout.clone();
    assert!(out.starts_with("host\n"), "{out}");
    assert!(out.contains(" 1024 "), "{out}");
    assert!(out.ends_with("ro\n"), "{out}");
    let r = env.run(&["run", "--rm", "-v", &vol, "busybox", "cat", "/data/v"]);
    assert_eq!(r.ok().stdout, "v\n");
}

#[test]
fn the_trace_shows_each_mount_with_source_target_and_type() {
    let env = Env::new("mount_trace");
    let vol = format!("{}:/data:ro", env.name("data"));
    env.run(&[
        "run",
        "--rm",
        "-v",
        &vol,
        "--tmpfs",
        "/run:size=1m",
        "busybox",
        "true",
    ])
    .ok();
    let traces = env.traces();
    let run = traces.iter().find(|t| t["operation"] == "run").unwrap();
    let spans = run["spans"].as_array().unwrap();
    let note = |name: &str| {
        spans
            .iter()
            .find(|s| s["name"] == name)
            .map(|s| s["attrs"]["note"].as_str().unwrap_or("").to_string())
            .unwrap()
    };
    let want_vol = format!("volume {} → /data (ro)", env.name("data"));
    assert!(
        note("create.mounts").contains(&want_vol),
        "{}",
        note("create.mounts")
    );
    assert!(
        note("create.mounts").contains("tmpfs → /run (rw,size=1m)"),
        "{}",
        note("create.mounts")
    );
    assert!(
        note("start.mounts.setup").contains(&want_vol),
        "{}",
        note("start.mounts.setup")
    );
    let create_mounts = spans.iter().find(|s| s["name"] == "create.mounts").unwrap();
    let events = create_mounts["events"].to_string();
    assert!(
        events.contains("mount point") && events.contains("/data") && events.contains("tmpfs"),
        "{events}"
    );
}

/// Unmounts what a test mounted on the host, before `Env` checks that nothing is left.
struct HostMounts(Vec<std::path::PathBuf>);

impl Drop for HostMounts {
    fn drop(&mut self) {
        for m in self.0.iter().rev() {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(m)
                .status();
        }
    }
}

fn host_mount(mounts: &mut HostMounts, dir: &Path, propagation: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let ok = |args: &[&str]| {
        let s = std::process::Command::new("mount")
            .args(args)
            .arg(dir)
            .status();
        assert!(s.unwrap().success(), "mount {args:?} {}", dir.display());
    };
    ok(&["-t", "tmpfs", "tmpfs"]);
    mounts.0.push(dir.to_path_buf());
    ok(&[propagation]);
}

#[test]
fn bind_propagation_is_honoured() {
    let env = Env::new("propagation");
    let mut host = HostMounts(Vec::new());
    let private = env.dir.join("private");
    host_mount(&mut host, &private, "--make-private");
    let m = format!(
        "type=bind,source={},target=/p,bind-propagation=rslave",
        private.display()
    );
    let r = env.run(&["run", "--rm", "--mount", &m, "busybox", "true"]);
    assert_eq!(r.code, 125, "{}", r.stderr);
    assert!(
        r.stderr.contains("is not a shared or slave mount"),
        "{}",
        r.stderr
    );

    // An rslave bind sees what the host mounts under the source later; an rprivate one does not.
    let shared = env.dir.join("shared");
    host_mount(&mut host, &shared, "--make-shared");
    let script = |n: &str| {
        format!(
            "touch /p/ready-{n}; while [ ! -e /p/go ]; do sleep 0.05; done; \
             grep -q ' /p/sub ' /proc/self/mountinfo && echo seen || echo unseen"
        )
    };
    let spawn = |prop: &str, n: &str| {
        let m = format!(
            "type=bind,source={},target=/p,bind-propagation={prop}",
            shared.display()
        );
        env.cmd(&[
            "run",
            "--rm",
            "--mount",
            &m,
            "busybox",
            "sh",
            "-c",
            &script(n),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
    };
    let slave = spawn("rslave", "a");
    let private = spawn("rprivate", "b");
    let rshared = spawn("rshared", "c");
    eventually(
        || {
            ["a", "b", "c"]
                .iter()
                .all(|n| shared.join(format!("ready-{n}")).exists())
        },
        PATIENCE,
    );
    host_mount(&mut host, &shared.join("sub"), "--make-private");
    std::fs::write(shared.join("go"), "").unwrap();
    let out = |c: std::process::Child| {
        let o = c.wait_with_output().unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    assert_eq!(out(slave), "seen\n");
    assert_eq!(out(private), "unseen\n");
    assert_eq!(out(rshared), "seen\n");
}

#[test]
fn a_volume_with_local_driver_options_is_mounted_while_containers_run() {
    let env = Env::new("volume_opts");
    let tv = env.name("tv");
    env.run(&[
        "volume",
        "create",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "-o",
        "o=size=1m",
        &tv,
    ])
    .ok();
    let r = env.run(&["volume", "inspect", &tv]);
    let v: serde_json::Value = serde_json::from_str(&r.ok().stdout).unwrap();
    assert_eq!(v[0]["Options"]["type"], "tmpfs");
    let data = env.root.join("volumes").join(&tv).join("_data");
    let spec = format!("{tv}:/d");
    let w = env.name("writer");
    env.run(&[
        "run",
        "-d",
        "--name",
        &w,
        "-v",
        &spec,
        "busybox",
        "sh",
        "-c",
        "echo x > /d/f; sleep 1000",
    ])
    .ok();
    assert_eq!(
        mounts_under(&data).len(),
        1,
        "mounted on the host while in use"
    );
    // The writer writes x once it runs: read until it is there.
    let out = within(PATIENCE, || {
        let r = env.run(&[
            "run",
            "--rm",
            "-v",
            &spec,
            "busybox",
            "sh",
            "-c",
            "cat /d/f && df -k /d | tail -1",
        ]);
        Some(r.stdout).filter(|o| o.starts_with("x\n"))
    })
    .unwrap_or_default();
    assert!(out.starts_with("x\n") && out.contains(" 1024 "), "{out}");
    // The reader stopped, the writer still runs: still mounted.
    assert_eq!(mounts_under(&data).len(), 1);
    env.run(&["rm", "-f", &w]).ok();
    assert!(
        mounts_under(&data).is_empty(),
        "unmounted with its last user"
    );

    // The same through --mount's volume-opt: created with the options on first use.
    let m = format!(
        "type=volume,source={},target=/v,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-opt=o=size=2m",
        env.name("mv")
    );
    let r = env.run(&[
        "run",
        "--rm",
        "--mount",
        &m,
        "busybox",
        "sh",
        "-c",
        "df -k /v | tail -1",
    ]);
    assert!(r.ok().stdout.contains(" 2048 "), "{}", r.stdout);
    assert!(mounts_under(&env.root).is_empty());

    // type=none,o=bind: the volume is a host directory.
    let dir = env.dir.join("backing");
    std::fs::create_dir_all(&dir).unwrap();
    let bv = env.name("bv");
    let device = format!("device={}", dir.display());
    env.run(&[
        "volume",
        "create",
        "-o",
        "type=none",
        "-o",
        &device,
        "-o",
        "o=bind",
        &bv,
    ])
    .ok();
    let spec = format!("{bv}:/b");
    env.run(&[
        "run",
        "--rm",
        "-v",
        &spec,
        "busybox",
        "sh",
        "-c",
        "echo y > /b/g",
    ])
    .ok();
    assert_eq!(std::fs::read_to_string(dir.join("g")).unwrap(), "y\n");
    assert!(mounts_under(&env.root).is_empty());

    let r = env.run(&["volume", "create", "-o", "foo=bar", "bad-opts"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("invalid option key: \"foo\""),
        "{}",
        r.stderr
    );
    let r = env.run(&["volume", "create", "-o", "type=tmpfs", "bad-opts"]);
    assert!(
        r.stderr.contains("missing required option: \"device\""),
        "{}",
        r.stderr
    );
    assert_eq!(volume_names(&env).len(), 3);
}
