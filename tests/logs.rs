//! `ctrace logs`: --tail, -t, --since/--until and -f against real detached containers.

mod common;

use common::Env;

#[test]
fn tail_timestamps_and_time_windows() {
    let env = Env::new("logs_tail");
    let name = env.name("counter");
    env.detached(
        &name,
        &[
            "sh",
            "-c",
            "for i in 1 2 3 4 5; do echo $i; done; echo oops >&2",
        ],
    );
    assert_eq!(env.run(&["wait", &name]).ok().stdout, "0\n");

    let all = env.run(&["logs", &name]);
    assert_eq!(all.ok().stdout, "1\n2\n3\n4\n5\n");
    assert_eq!(all.stderr, "oops\n", "stderr lines stay on stderr");

    // The last lines of both streams together, as docker counts them.
    let tail = env.run(&["logs", "--tail", "3", &name]);
    assert_eq!(tail.ok().stdout, "4\n5\n");
    assert_eq!(tail.stderr, "oops\n");
    assert_eq!(env.run(&["logs", "-n", "0", &name]).ok().stdout, "");
    assert_eq!(
        env.run(&["logs", "--tail", "all", &name]).ok().stdout,
        "1\n2\n3\n4\n5\n"
    );

    let stamped = env.run(&["logs", "-t", "--tail", "1", &name]);
    let (time, text) = stamped.ok().stderr.split_once(' ').unwrap();
    assert_eq!(text, "oops\n");
    assert!(
        time.len() > 20 && time.ends_with('Z') && time.contains('T'),
        "RFC 3339 timestamp: {time}"
    );

    // Windows: everything is older than a second from the future, and newer than an hour ago.
    assert_eq!(
        env.run(&["logs", "--since", "2099-01-01T00:00:00Z", &name])
            .ok()
            .stdout,
        ""
    );
    assert_eq!(
        env.run(&["logs", "--since", "1h", &name]).ok().stdout,
        "1\n2\n3\n4\n5\n"
    );
    assert_eq!(
        env.run(&["logs", "--until", "1970-01-02", &name])
            .ok()
            .stdout,
        ""
    );

    // Bad input: one line, exit 1.
    let bad = env.run(&["logs", "--since", "soon", &name]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.contains("invalid value for --since"),
        "{}",
        bad.stderr
    );
    let missing = env.run(&["logs", "no-such-container-xyz"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("no such container"),
        "{}",
        missing.stderr
    );
}

#[test]
fn follow_prints_until_the_container_exits() {
    let env = Env::new("logs_follow");
    let name = env.name("ticker");
    let gate = env.dir.join("gate");
    // The container waits for a gate file shared through a bind mount, so the follower surely
    // starts before the last lines are written.
    std::fs::create_dir_all(&gate).unwrap();
    let bind = format!("{}:/gate", gate.display());
    env.run(&[
        "run",
        "-d",
        "--name",
        &name,
        "-v",
        &bind,
        "busybox",
        "sh",
        "-c",
        "echo before; while [ ! -e /gate/go ]; do sleep 0.05; done; echo after; echo bye >&2",
    ])
    .ok();
    let mut follower = env
        .cmd(&["logs", "-f", &name])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Let the follower see "before" first: read it off the pipe before opening the gate.
    let mut stdout = follower.stdout.take().unwrap();
    let mut first = [0u8; 7];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    assert_eq!(&first, b"before\n");
    std::fs::write(gate.join("go"), "").unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert_eq!(
        rest, "after\n",
        "the follower ends when the container exits"
    );
    let mut err = String::new();
    std::io::Read::read_to_string(&mut follower.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(err, "bye\n");
    assert!(follower.wait().unwrap().success());
    assert_eq!(env.run(&["wait", &name]).ok().stdout, "0\n");
}

#[test]
fn nothing_is_lost_when_the_container_exits_at_once() {
    let env = Env::new("logs_burst");
    let name = env.name("burst");
    env.detached(
        &name,
        &[
            "sh",
            "-c",
            "seq 1 20000; seq 1 3000 >&2; printf 'no newline'",
        ],
    );
    assert_eq!(env.run(&["wait", &name]).ok().stdout, "0\n");
    let r = env.run(&["logs", &name]);
    let out: Vec<&str> = r.ok().stdout.lines().collect();
    assert_eq!(out.len(), 20001);
    assert_eq!(out[19999], "20000");
    assert_eq!(out[20000], "no newline", "a last partial line is kept");
    assert_eq!(r.stderr.lines().count(), 3000);
    // Following a container that has already exited prints everything and ends.
    let f = env.run(&["logs", "-f", "--tail", "2", &name]);
    // (The last two lines of both streams: stderr's last, then the partial line.)
    assert_eq!(f.ok().stdout, "no newline");
    assert_eq!(f.stderr, "3000\n");
}
