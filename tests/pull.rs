//! `ctrace pull` and pull-on-run against a real registry on 127.0.0.1 (Debian's
//! `docker-registry`), with images pushed by skopeo from OCI layouts built here, some behind a
//! proxy that plays a token server or breaks transfers on purpose.

mod common;

use common::registry::{build_layout, host_arch, Fault, Proxy, Registry, TokenAuth};
use common::{Env, Run};

/// `ctrace ARGS` without the caller's HTTP proxy or docker credentials.
fn ct(env: &Env, args: &[&str]) -> Run {
    env.direct_cmd(args).output().unwrap().into()
}

fn image_ids(env: &Env) -> Vec<String> {
    let r = ct(env, &["images", "-q"]);
    r.ok();
    r.stdout.lines().map(str::to_string).collect()
}

/// Span names of the last trace of `operation`, in start order.
fn span_names(env: &Env, operation: &str) -> Vec<String> {
    let traces = env.traces();
    let t = traces
        .iter()
        .rev()
        .find(|t| t["operation"] == operation)
        .unwrap_or_else(|| panic!("no {operation} trace"));
    let mut spans: Vec<&serde_json::Value> = t["spans"].as_array().unwrap().iter().collect();
    spans.sort_by_key(|s| s["start_unix_ns"].as_u64().unwrap());
    spans
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

fn blob_in_store(env: &Env, digest: &str) -> bool {
    env.root
        .join("images/blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
        .exists()
}

fn partial_files(env: &Env) -> Vec<String> {
    std::fs::read_dir(env.root.join("tmp/pulls"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".partial"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn harness_pushes_a_layout_into_a_local_registry() {
    let (reg, _img) = Registry::with_app("harness", 0);
    // config + 2 layers + manifest
    assert_eq!(reg.stored_blobs(), 4);
}

#[test]
fn pull_by_tag_registers_a_runnable_image_with_every_step_traced() {
    let (reg, img) = Registry::with_app("pull_tag", 0);
    let proxy = Proxy::start(&reg.addr, None);
    let env = Env::new("pull_tag");
    let r#ref = format!("{}/team/app:1.2", proxy.addr);
    let r = ct(&env, &["pull", &r#ref]);
    r.ok();
    assert_eq!(
        r.stdout.lines().last(),
        Some(r#ref.as_str()),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("1.2: Pulling from team/app"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains(&format!("Status: Downloaded newer image for {}", r#ref)),
        "{}",
        r.stdout
    );
    assert_eq!(
        image_ids(&env),
        [img.config_digest.trim_start_matches("sha256:")[..12].to_string()]
    );
    let names = span_names(&env, "pull");
    for phase in [
        "pull",
        "pull.resolve",
        "pull.auth",
        "pull.manifest",
        "pull.verify",
        "pull.unpack",
        "pull.register",
    ] {
        assert!(names.iter().any(|n| n == phase), "{phase} in {names:?}");
    }
    // config + 2 layers
    assert_eq!(names.iter().filter(|n| *n == "pull.blob").count(), 3);

    let run = ct(&env, &["run", "--rm", "--network", "none", &r#ref]);
    run.ok();
    assert_eq!(run.stdout, "hello");

    // Pulling again fetches no blob: the store has them all.
    let before = proxy.requests().len();
    let again = ct(&env, &["pull", &r#ref]);
    again.ok();
    assert!(
        again.stdout.contains("Image is up to date"),
        "{}",
        again.stdout
    );
    let new: Vec<String> = proxy.requests()[before..].to_vec();
    assert!(
        new.iter().all(|l| !l.contains("/blobs/")),
        "no blob fetched again: {new:?}"
    );
    let q = ct(&env, &["pull", "-q", &r#ref]);
    q.ok();
    assert_eq!(q.stdout, format!("{}\n", r#ref));
}

#[test]
fn run_pulls_a_missing_image_and_a_warm_run_makes_no_request() {
    let (reg, _img) = Registry::with_app("run_pull", 0);
    let proxy = Proxy::start(&reg.addr, None);
    let env = Env::new("run_pull");
    let r#ref = format!("{}/team/app:1.2", proxy.addr);
    let r = ct(
        &env,
        &[
            "run",
            "--pull",
            "missing",
            "--rm",
            "--network",
            "none",
            &r#ref,
        ],
    );
    r.ok();
    assert_eq!(r.stdout, "hello");
    assert!(
        r.stderr
            .contains(&format!("Unable to find image '{}' locally", r#ref)),
        "{}",
        r.stderr
    );
    let names = span_names(&env, "run");
    let pull_at = names.iter().position(|n| n == "create.image.pull").unwrap();
    let config_at = names.iter().position(|n| n == "create.config").unwrap();
    for phase in [
        "pull.resolve",
        "pull.manifest",
        "pull.blob",
        "pull.register",
    ] {
        let at = names.iter().position(|n| n == phase).expect(phase);
        assert!(
            pull_at < at && at < config_at,
            "{phase} inside create.image.pull: {names:?}"
        );
    }

    let before = proxy.requests().len();
    let warm = ct(
        &env,
        &[
            "run",
            "--pull",
            "missing",
            "--rm",
            "--network",
            "none",
            &r#ref,
        ],
    );
    warm.ok();
    assert!(!warm.stderr.contains("Unable to find"), "{}", warm.stderr);
    assert_eq!(
        proxy.requests().len(),
        before,
        "a warm run makes no request"
    );

    // --pull always goes to the registry even so; --pull never does not and refuses a miss.
    let always = ct(
        &env,
        &[
            "run",
            "--pull",
            "always",
            "--rm",
            "--network",
            "none",
            &r#ref,
        ],
    );
    always.ok();
    assert!(proxy.requests().len() > before);
    let missing = format!("{}/team/other:1", proxy.addr);
    let never = ct(&env, &["run", "--pull", "never", "--rm", &missing]);
    assert_eq!(never.code, 125);
    assert!(never.stderr.contains("--pull is never"), "{}", never.stderr);
}

#[test]
fn pull_by_digest_and_bad_references() {
    let (reg, img) = Registry::with_app("pull_digest", 0);
    let env = Env::new("pull_digest");
    let by_digest = format!("{}/team/app@{}", reg.addr, img.manifest_digest);
    let r = ct(&env, &["pull", &by_digest]);
    r.ok();
    assert_eq!(r.stdout.lines().last(), Some(by_digest.as_str()));
    let inspect = ct(&env, &["image", "inspect", &by_digest]);
    inspect.ok();
    assert!(
        inspect.stdout.contains(&img.config_digest),
        "{}",
        inspect.stdout
    );

    // A digest the registry does not have, a tag it does not have, a bad reference.
    let wrong = format!("{}/team/app@sha256:{}", reg.addr, "0".repeat(64));
    let r = ct(&env, &["pull", &wrong]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("not found"), "{}", r.stderr);
    let r = ct(&env, &["pull", &format!("{}/team/app:nope", reg.addr)]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr.trim(),
        format!(
            "ctrace: manifest for {}/team/app:nope not found: manifest unknown",
            reg.addr
        )
    );
    let r = ct(
        &env,
        &[
            "run",
            "--pull",
            "missing",
            "--rm",
            &format!("{}/team/app:nope", reg.addr),
        ],
    );
    assert_eq!(r.code, 125);
    let r = ct(&env, &["pull", "Busybox"]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr.trim(),
        "ctrace: invalid reference format: repository name must be lowercase"
    );
    assert_eq!(image_ids(&env).len(), 1, "only the digest pull registered");
}

#[test]
fn a_multi_platform_index_resolves_to_the_host_or_the_asked_platform() {
    let reg = Registry::start("multi");
    let other = if host_arch() == "arm64" {
        "amd64"
    } else {
        "arm64"
    };
    let img = build_layout(
        &reg.dir.join("layout"),
        "hello",
        0,
        &[other, host_arch(), "s390x"],
    );
    reg.push(&img.layout, &img.layout_ref, "multi/app:1", true);
    let env = Env::new("multi");
    let r#ref = format!("{}/multi/app:1", reg.addr);
    let r = ct(&env, &["pull", &r#ref]);
    r.ok();
    // The digest printed is the index's; the image is the host's.
    assert!(
        r.stdout
            .contains(&format!("Digest: {}", img.index_digest.clone().unwrap())),
        "{}",
        r.stdout
    );
    let inspect = ct(&env, &["image", "inspect", &r#ref]);
    assert!(
        inspect
            .stdout
            .contains(&format!("\"architecture\": \"{}\"", host_arch())),
        "{}",
        inspect.stdout
    );
    let run = ct(&env, &["run", "--rm", "--network", "none", &r#ref]);
    run.ok();
    assert_eq!(run.stdout, "hello");

    let r = ct(
        &env,
        &["pull", "--platform", &format!("linux/{other}"), &r#ref],
    );
    r.ok();
    // Same layers, another config: nothing but the config and manifest is fetched.
    assert!(r.stdout.contains("Already exists"), "{}", r.stdout);
    let inspect = ct(&env, &["image", "inspect", &r#ref]);
    assert!(
        inspect
            .stdout
            .contains(&format!("\"architecture\": \"{other}\"")),
        "{}",
        inspect.stdout
    );
    let r = ct(&env, &["pull", "--platform", "linux/riscv64", &r#ref]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("no matching manifest for linux/riscv64"),
        "{}",
        r.stderr
    );
}

#[test]
fn basic_auth_login_logout_and_wrong_credentials() {
    let reg = Registry::start_with_htpasswd("basic", "alice", "s3cret");
    let img = build_layout(&reg.dir.join("layout"), "hello", 0, &[host_arch()]);
    reg.push(&img.layout, &img.layout_ref, "private/app:1", false);
    let env = Env::new("basic");
    let r#ref = format!("{}/private/app:1", reg.addr);

    let r = ct(&env, &["pull", &r#ref]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains(&format!("run `ctrace login {}` first", reg.addr)),
        "{}",
        r.stderr
    );
    let r = ct(&env, &["login", &reg.addr, "-u", "alice", "-p", "wrong"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("refused the credentials of alice"),
        "{}",
        r.stderr
    );
    assert!(
        !env.root.join("config.json").exists()
            || !std::fs::read_to_string(env.root.join("config.json"))
                .unwrap()
                .contains(&reg.addr)
    );

    let mut c = env.direct_cmd(&["login", &reg.addr, "-u", "alice", "--password-stdin"]);
    c.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(b"s3cret\n").unwrap();
    let r: Run = child.wait_with_output().unwrap().into();
    r.ok();
    assert_eq!(r.stdout, "Login Succeeded\n");
    let config = std::fs::read_to_string(env.root.join("config.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert!(doc["auths"][&reg.addr]["auth"].is_string(), "{config}");
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(env.root.join("config.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "config.json is private");

    ct(&env, &["pull", &r#ref]).ok();
    let r = ct(&env, &["logout", &reg.addr]);
    r.ok();
    assert_eq!(
        r.stdout,
        format!("Removing login credentials for {}\n", reg.addr)
    );
    ct(&env, &["rmi", &r#ref]).ok();
    assert_eq!(ct(&env, &["pull", &r#ref]).code, 1);

    // Credentials stored as docker's: a wrong password in config.json is reported at pull.
    let bad = serde_json::json!({"auths": {reg.addr.clone(): {"auth": "YWxpY2U6bm9wZQ=="}}});
    std::fs::write(env.root.join("config.json"), bad.to_string()).unwrap();
    let r = ct(&env, &["pull", &r#ref]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("refused the credentials of alice"),
        "{}",
        r.stderr
    );
    assert!(image_ids(&env).is_empty());
}

#[test]
fn bearer_tokens_anonymous_and_with_credentials() {
    let (reg, _img) = Registry::with_app("bearer", 0);
    let env = Env::new("bearer");

    let anon = Proxy::start(&reg.addr, Some(TokenAuth { creds: None }));
    let r#ref = format!("{}/team/app:1.2", anon.addr);
    ct(&env, &["pull", &r#ref]).ok();
    assert!(
        anon.tokens_issued
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
    let auth_note = span_names(&env, "pull");
    assert!(auth_note.iter().any(|n| n == "pull.auth"));
    let t = env.traces();
    let last = t.iter().rev().find(|t| t["operation"] == "pull").unwrap();
    let auth = last["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "pull.auth")
        .unwrap();
    assert!(
        auth.to_string().contains("anonymous bearer token"),
        "{auth}"
    );

    let private = Proxy::start(
        &reg.addr,
        Some(TokenAuth {
            creds: Some(("bob".into(), "hunter2".into())),
        }),
    );
    let r#ref = format!("{}/team/app:1.2", private.addr);
    let r = ct(&env, &["pull", &r#ref]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("ctrace login"), "{}", r.stderr);
    let r = ct(&env, &["login", &private.addr, "-u", "bob", "-p", "nope"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("refused the credentials of bob: incorrect username or password"),
        "{}",
        r.stderr
    );
    ct(
        &env,
        &["login", &private.addr, "-u", "bob", "-p", "hunter2"],
    )
    .ok();
    let r = ct(&env, &["pull", &r#ref]);
    r.ok();
}

#[test]
fn a_blob_that_does_not_match_its_digest_is_refused_and_nothing_registered() {
    let (reg, img) = Registry::with_app("corrupt", 0);
    let proxy = Proxy::start(&reg.addr, None);
    let env = Env::new("corrupt");
    let bad_layer = img.layers[0].clone();
    proxy.set_fault(Fault::Corrupt(bad_layer.clone()));
    let r#ref = format!("{}/team/app:1.2", proxy.addr);
    let r = ct(&env, &["pull", &r#ref]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("failed verification"), "{}", r.stderr);
    assert!(r.stderr.contains(&bad_layer), "{}", r.stderr);
    assert!(image_ids(&env).is_empty(), "nothing registered");
    assert!(
        !blob_in_store(&env, &bad_layer),
        "the bad blob is not in the store"
    );
    assert!(partial_files(&env).is_empty(), "{:?}", partial_files(&env));
    let r = ct(&env, &["run", "--pull", "missing", "--rm", &r#ref]);
    assert_eq!(r.code, 125);
    assert!(image_ids(&env).is_empty());

    proxy.set_fault(Fault::None);
    ct(&env, &["pull", &r#ref]).ok();
    assert_eq!(image_ids(&env).len(), 1);
}

#[test]
fn a_transfer_cut_midway_registers_nothing_and_a_retry_resumes() {
    let (reg, _img) = Registry::with_app("cut", 4 << 20);
    let proxy = Proxy::start(&reg.addr, None);
    let env = Env::new("cut");
    let r#ref = format!("{}/team/app:1.2", proxy.addr);

    // Every transfer breaks: the pull gives up, registers nothing, keeps only a hidden prefix.
    proxy.set_fault(Fault::CutBlobAlways);
    let r = ct(&env, &["pull", &r#ref]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("pull again to resume"), "{}", r.stderr);
    assert!(image_ids(&env).is_empty(), "nothing registered");
    let partial = partial_files(&env);
    assert_eq!(partial.len(), 1, "{partial:?}");
    let cut_hex = partial[0].trim_end_matches(".partial").to_string();
    assert!(
        !blob_in_store(&env, &cut_hex),
        "a partial blob is not visible"
    );

    // The next pull resumes it with a range request and succeeds.
    proxy.set_fault(Fault::None);
    let before = proxy.requests().len();
    ct(&env, &["pull", &r#ref]).ok();
    assert!(
        proxy.requests()[before..]
            .iter()
            .any(|l| l.contains(&cut_hex) && l.contains("range=bytes=")),
        "resumed with a range request: {:?}",
        proxy.requests()
    );
    assert!(partial_files(&env).is_empty());
    assert_eq!(image_ids(&env).len(), 1);
    let run = ct(&env, &["run", "--rm", "--network", "none", &r#ref]);
    run.ok();
    assert_eq!(run.stdout, "hello");
}

#[test]
fn one_broken_transfer_is_resumed_within_the_pull() {
    let (reg, _img) = Registry::with_app("cut_once", 4 << 20);
    let proxy = Proxy::start(&reg.addr, None);
    let env = Env::new("cut_once");
    let r#ref = format!("{}/team/app:1.2", proxy.addr);
    // The first blob transfer breaks once.
    proxy.set_fault(Fault::CutBlobOnce);
    let before = proxy.requests().len();
    ct(&env, &["pull", &r#ref]).ok();
    let resumed: Vec<String> = proxy.requests()[before..]
        .iter()
        .filter(|l| l.contains("range=bytes="))
        .cloned()
        .collect();
    assert_eq!(resumed.len(), 1, "{:?}", proxy.requests());
    let t = env.traces();
    let last = t.iter().rev().find(|t| t["operation"] == "pull").unwrap();
    assert!(
        last.to_string().contains("transfer broke, resuming"),
        "the resume is an event of its pull.blob span"
    );
}

#[test]
fn concurrent_pulls_of_one_image_fetch_each_blob_once() {
    let (reg, img) = Registry::with_app("concurrent", 2 << 20);
    let proxy = Proxy::start(&reg.addr, None);
    let env = Env::new("concurrent");
    let r#ref = format!("{}/team/app:1.2", proxy.addr);
    let spawn = || {
        let mut c = env.direct_cmd(&["pull", "-q", &r#ref]);
        c.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let children: Vec<_> = (0..3).map(|_| spawn()).collect();
    for c in children {
        let r: Run = c.wait_with_output().unwrap().into();
        r.ok();
    }
    for blob in img.layers.iter().chain([&img.config_digest]) {
        let gets = proxy
            .requests()
            .iter()
            .filter(|l| l.starts_with("GET") && l.contains(&format!("/blobs/{blob}")))
            .count();
        assert_eq!(gets, 1, "{blob} fetched once: {:?}", proxy.requests());
    }
    assert_eq!(image_ids(&env).len(), 1);
}

#[test]
fn busybox_is_built_offline_only_when_the_registry_cannot_be_reached() {
    let env = Env::new("offline");
    // Docker Hub made unreachable on any machine: every request goes to a dead proxy.
    let mut c = env.direct_cmd(&[
        "run",
        "--pull",
        "missing",
        "--rm",
        "--network",
        "none",
        "busybox",
        "echo",
        "hi",
    ]);
    c.env("ALL_PROXY", "http://127.0.0.1:1");
    let r: Run = c.output().unwrap().into();
    r.ok();
    assert_eq!(r.stdout, "hi\n");
    assert!(
        r.stderr
            .contains("Unable to find image 'busybox:latest' locally"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("the registry cannot be reached")
            && r.stderr.contains("built it from the host's static busybox"),
        "{}",
        r.stderr
    );
    let names = span_names(&env, "run");
    assert!(names.iter().any(|n| n == "image.bootstrap"), "{names:?}");

    // `ctrace pull busybox` in the same classroom builds it too, and says so.
    ct(&env, &["rmi", "busybox"]).ok();
    let mut c = env.direct_cmd(&["pull", "busybox"]);
    c.env("ALL_PROXY", "http://127.0.0.1:1");
    let r: Run = c.output().unwrap().into();
    r.ok();
    assert_eq!(r.stdout, "docker.io/library/busybox:latest\n");
    assert!(r.stderr.contains("cannot reach registry"), "{}", r.stderr);
    assert_eq!(image_ids(&env).len(), 1);

    // Any other failure is not hidden by the fallback.
    let (reg, _img) = Registry::with_app("offline", 0);
    let r = ct(
        &env,
        &[
            "run",
            "--pull",
            "missing",
            "--rm",
            &format!("{}/library/busybox:nope", reg.addr),
        ],
    );
    assert_eq!(r.code, 125);
    assert!(r.stderr.contains("manifest unknown"), "{}", r.stderr);
}

#[test]
fn docker_hub_names_come_from_a_registry_mirror() {
    let reg = Registry::start("mirror");
    let img = build_layout(
        &reg.dir.join("layout"),
        "from the mirror",
        0,
        &[host_arch()],
    );
    reg.push(&img.layout, &img.layout_ref, "library/alpine:latest", false);
    let env = Env::new("mirror");
    let mirror = format!("http://{}", reg.addr);
    let r = ct(&env, &["--registry-mirror", &mirror, "pull", "alpine"]);
    r.ok();
    assert_eq!(
        r.stdout.lines().last(),
        Some("docker.io/library/alpine:latest")
    );
    let images = ct(&env, &["images"]);
    assert!(
        images
            .stdout
            .lines()
            .any(|l| l.starts_with("alpine ") && l.contains("latest")),
        "{}",
        images.stdout
    );
    ct(&env, &["rmi", "alpine"]).ok();

    // The same through the environment, pulled by `run`.
    let mut c = env.direct_cmd(&[
        "run",
        "--pull",
        "missing",
        "--rm",
        "--network",
        "none",
        "alpine",
    ]);
    c.env("CTRACE_REGISTRY_MIRROR", &mirror);
    let r: Run = c.output().unwrap().into();
    r.ok();
    assert_eq!(r.stdout, "from the mirror");
    assert!(
        r.stderr
            .contains("Unable to find image 'alpine:latest' locally"),
        "{}",
        r.stderr
    );
}

#[test]
fn zstd_layers_pull_and_run() {
    let reg = Registry::start("zstd");
    let img = common::registry::build_layout_with(
        &reg.dir.join("layout"),
        "zstd",
        0,
        &[host_arch()],
        true,
    );
    reg.push(&img.layout, &img.layout_ref, "z/app:1", false);
    let env = Env::new("zstd");
    let r#ref = format!("{}/z/app:1", reg.addr);
    ct(&env, &["pull", "-q", &r#ref]).ok();
    let manifest = std::fs::read_to_string(
        env.root
            .join("images/blobs/sha256")
            .join(img.manifest_digest.trim_start_matches("sha256:")),
    )
    .unwrap();
    assert!(manifest.contains("tar+zstd"), "{manifest}");
    let run = ct(&env, &["run", "--rm", "--network", "none", &r#ref]);
    run.ok();
    assert_eq!(run.stdout, "zstd");
}

#[test]
fn docker_schema_2_manifests_pull_and_run() {
    let reg = Registry::start("v2s2");
    let img = build_layout(&reg.dir.join("layout"), "docker", 0, &[host_arch()]);
    reg.push_as(&img.layout, &img.layout_ref, "d/app:1", false, Some("v2s2"));
    let env = Env::new("v2s2");
    let r#ref = format!("{}/d/app:1", reg.addr);
    let r = ct(&env, &["pull", &r#ref]);
    r.ok();
    let digest = r
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Digest: "))
        .unwrap()
        .to_string();
    let manifest = std::fs::read_to_string(
        env.root
            .join("images/blobs/sha256")
            .join(digest.trim_start_matches("sha256:")),
    )
    .unwrap();
    assert!(
        manifest.contains("application/vnd.docker.distribution.manifest.v2+json"),
        "{manifest}"
    );
    let run = ct(&env, &["run", "--rm", "--network", "none", &r#ref]);
    run.ok();
    assert_eq!(run.stdout, "docker");

    // Pulled again by that digest and untagged: listed without a tag, as docker does.
    ct(
        &env,
        &["pull", "-q", &format!("{}/d/app@{digest}", reg.addr)],
    )
    .ok();
    ct(&env, &["rmi", &r#ref]).ok();
    let images = ct(&env, &["images"]);
    assert!(
        images
            .stdout
            .lines()
            .any(|l| l.starts_with(&format!("{}/d/app ", reg.addr)) && l.contains("<none>")),
        "{}",
        images.stdout
    );
}

#[test]
fn pull_explain_narrates_each_step() {
    let (reg, _img) = Registry::with_app("explain", 0);
    let env = Env::new("explain");
    let r#ref = format!("{}/team/app:1.2", reg.addr);
    let r = ct(&env, &["pull", "--explain", &r#ref]);
    r.ok();
    for phase in [
        "pull.resolve",
        "pull.auth",
        "pull.manifest",
        "pull.blob",
        "pull.verify",
        "pull.unpack",
        "pull.register",
    ] {
        assert!(r.stderr.contains(phase), "{phase}: {}", r.stderr);
    }
    assert!(r.stderr.contains("sha256 verified"), "{}", r.stderr);
    assert!(
        r.stderr.contains("details: ctrace trace show"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stdout.lines().last(), Some(r#ref.as_str()));
}

#[test]
fn an_image_of_another_platform_is_stored_with_docker_s_warning() {
    let reg = Registry::start("foreign");
    let other = if host_arch() == "arm64" {
        "amd64"
    } else {
        "arm64"
    };
    let img = build_layout(&reg.dir.join("layout"), "hello", 0, &[other]);
    reg.push(&img.layout, &img.layout_ref, "f/app:1", false);
    let env = Env::new("foreign");
    let r = ct(&env, &["pull", &format!("{}/f/app:1", reg.addr)]);
    r.ok();
    assert!(
        r.stderr.contains(&format!(
            "WARNING: the requested image's platform (linux/{other}) does not match the wanted platform (linux/{})",
            host_arch()
        )),
        "{}",
        r.stderr
    );
    assert_eq!(image_ids(&env).len(), 1);
}
