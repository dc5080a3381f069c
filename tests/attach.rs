//! Attaching to containers through `ctrace daemon` with raw clients (no docker CLI, which
//! watches for the detach keys on its own side): the websocket endpoint with a real websocket
//! client (tungstenite's), the hijacked attach and exec start, the detach keys the daemon
//! applies to a terminal's input, and the past output `logs=1` replays.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use common::daemon::Daemon;
use common::{within, Env, PATIENCE};
use tokio_tungstenite::tungstenite::{self, Message};

/// A container with a terminal and an open stdin running `sh`, as `docker run -dit`.
fn shell(env: &Env, d: &Daemon, base: &str) -> String {
    let name = env.name(base);
    d.docker(&["run", "-dit", "--name", &name, "busybox", "sh"], &[])
        .ok();
    name
}

fn status(d: &Daemon, name: &str) -> String {
    let v = d
        .request("GET", &format!("/containers/{name}/json"), None)
        .json();
    v["State"]["Status"].as_str().unwrap_or("").to_string()
}

/// A hijacked connection (`Upgrade: tcp`) after its 101 answer, or the answer that refused it.
fn hijack(d: &Daemon, path: &str, body: &str) -> Result<UnixStream, String> {
    let mut s = UnixStream::connect(&d.socket).unwrap();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    if head.starts_with("HTTP/1.1 101") {
        Ok(s)
    } else {
        // The connection stays open (keep-alive): the body ends with its last (empty) chunk.
        let mut rest = Vec::new();
        read_until(&mut s, &mut rest, "\r\n0\r\n\r\n");
        Err(format!("{head}{}", String::from_utf8_lossy(&rest)))
    }
}

/// Reads `s` until `needle` shows (everything read so far), failing after [`PATIENCE`].
#[track_caller]
fn read_until(s: &mut UnixStream, seen: &mut Vec<u8>, needle: &str) {
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let found = within(PATIENCE, || {
        let mut buf = [0u8; 4096];
        if let Ok(n) = s.read(&mut buf) {
            seen.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(seen).contains(needle).then_some(())
    });
    assert!(
        found.is_some(),
        "{needle:?} never came; read {:?}",
        String::from_utf8_lossy(seen)
    );
}

/// Whether the daemon ends the connection (end of file) within [`PATIENCE`]; what came before
/// is added to `seen`.
fn closed(s: &mut UnixStream, seen: &mut Vec<u8>) -> bool {
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    within(PATIENCE, || {
        let mut buf = [0u8; 4096];
        match s.read(&mut buf) {
            Ok(0) => Some(()),
            Ok(n) => {
                seen.extend_from_slice(&buf[..n]);
                None
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
            Err(_) => Some(()),
        }
    })
    .is_some()
}

type Ws = tungstenite::WebSocket<UnixStream>;

/// A websocket client on `path`, through tungstenite's handshake.
fn websocket(d: &Daemon, path: &str) -> Result<Ws, tungstenite::Error> {
    let s = UnixStream::connect(&d.socket).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let url = format!("ws://localhost{path}");
    tungstenite::client::client(url.as_str(), s)
        .map(|(ws, _)| ws)
        .map_err(|e| match e {
            tungstenite::HandshakeError::Failure(e) => e,
            tungstenite::HandshakeError::Interrupted(_) => {
                tungstenite::Error::Io(std::io::ErrorKind::WouldBlock.into())
            }
        })
}

/// What the websocket's next messages carry until `needle` shows; `None` when the daemon closed
/// it first. Fails after [`PATIENCE`].
fn ws_read(ws: &mut Ws, seen: &mut Vec<u8>, needle: Option<&str>) -> Option<()> {
    let got = within(PATIENCE, || loop {
        match ws.read() {
            Ok(Message::Binary(b)) => seen.extend_from_slice(&b),
            Ok(Message::Text(t)) => seen.extend_from_slice(t.as_bytes()),
            Ok(Message::Close(_)) => return Some(false),
            Ok(_) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
                return None
            }
            Err(_) => return Some(false),
        }
        if needle.is_some_and(|n| String::from_utf8_lossy(seen).contains(n)) {
            return Some(true);
        }
    });
    assert!(
        got.is_some(),
        "the websocket neither showed {needle:?} nor closed; read {:?}",
        String::from_utf8_lossy(seen)
    );
    got.unwrap().then_some(())
}

#[test]
fn a_websocket_client_types_into_a_terminal_reads_the_output_and_detaches_with_ctrl_p_ctrl_q() {
    let env = Env::new("attach_ws");
    let d = Daemon::start(&env);
    let name = shell(&env, &d, "ws");
    let path = format!("/v1.56/containers/{name}/attach/ws?stdin=1&stdout=1&stderr=1&stream=1");
    let mut ws = websocket(&d, &path).expect("the websocket handshake");
    let mut seen = Vec::new();
    ws.send(Message::Binary("echo ws-$((2+3))\n".into()))
        .unwrap();
    assert!(
        ws_read(&mut ws, &mut seen, Some("ws-5\r\n")).is_some(),
        "the websocket closed before the output: {:?}",
        String::from_utf8_lossy(&seen)
    );
    // The daemon's default detach keys: the daemon closes the websocket, the container runs on.
    ws.send(Message::Binary(b"\x10\x11".to_vec().into()))
        .unwrap();
    assert!(
        ws_read(&mut ws, &mut seen, None).is_none(),
        "the websocket stayed open after ^P^Q"
    );
    assert_eq!(status(&d, &name), "running");
    // And the terminal is there for the next client, its own detach keys in the query.
    let mut ws = websocket(&d, &format!("{path}&detachKeys=ctrl-x")).unwrap();
    ws.send(Message::Binary("echo again-$((3*3))\n".into()))
        .unwrap();
    assert!(ws_read(&mut ws, &mut seen, Some("again-9\r\n")).is_some());
    ws.send(Message::Binary(b"\x18".to_vec().into())).unwrap();
    assert!(ws_read(&mut ws, &mut seen, None).is_none());
    assert_eq!(status(&d, &name), "running");
    d.docker(&["rm", "-f", &name], &[]).ok();
}

#[test]
fn the_websocket_endpoint_refuses_what_is_not_a_websocket_and_bad_detach_keys() {
    let env = Env::new("attach_ws_refused");
    let d = Daemon::start(&env);
    let name = shell(&env, &d, "wsbad");
    let plain = d.request("GET", &format!("/containers/{name}/attach/ws"), None);
    assert_eq!(plain.status, 400, "{}", plain.body);
    assert!(plain.body.contains("websocket"), "{}", plain.body);
    let bad = websocket(
        &d,
        &format!("/containers/{name}/attach/ws?stdin=1&detachKeys=ctrl-"),
    );
    match bad {
        Err(tungstenite::Error::Http(r)) => {
            assert_eq!(r.status().as_u16(), 400);
            let body = String::from_utf8_lossy(r.body().as_deref().unwrap_or_default());
            assert!(
                body.contains("Invalid detach keys (ctrl-) provided"),
                "{body}"
            );
        }
        other => panic!("a bad detachKeys was not refused: {:?}", other.map(|_| ())),
    }
    let missing = websocket(&d, "/containers/no-such-ctr/attach/ws");
    assert!(
        matches!(&missing, Err(tungstenite::Error::Http(r)) if r.status().as_u16() == 404),
        "{:?}",
        missing.map(|_| ())
    );
    d.docker(&["rm", "-f", &name], &[]).ok();
}

#[test]
fn the_daemon_detaches_a_raw_client_and_passes_an_incomplete_sequence_through() {
    let env = Env::new("attach_detach_keys");
    let d = Daemon::start(&env);
    let name = shell(&env, &d, "keys");
    let path = format!("/v1.56/containers/{name}/attach?stream=1&stdin=1&stdout=1&detachKeys=z,q");
    let mut s = hijack(&d, &path, "").expect("the attach");
    let mut seen = Vec::new();
    // `zz1`: the first z was a prefix the second one left, the second a prefix `1` left; both
    // reach the shell.
    s.write_all(b"echo [zz1]\n").unwrap();
    read_until(&mut s, &mut seen, "[zz1]\r\n[zz1]\r\n");
    s.write_all(b"z").unwrap();
    s.write_all(b"q").unwrap();
    assert!(
        closed(&mut s, &mut seen),
        "the daemon kept the attach after z,q"
    );
    assert_eq!(status(&d, &name), "running");
    // The default keys, in one write with what precedes them: that much still reaches the shell.
    let path = format!("/containers/{name}/attach?stream=1&stdin=1&stdout=1");
    let mut s = hijack(&d, &path, "").unwrap();
    s.write_all(b"touch /before-keys\n\x10\x11echo after\n")
        .unwrap();
    assert!(closed(&mut s, &mut seen), "^P^Q did not end the attach");
    let ls = d.docker(&["exec", &name, "ls", "/before-keys"], &[]);
    assert_eq!(ls.code, 0, "{}", ls.stderr);
    assert_eq!(status(&d, &name), "running");
    // A bad spec is moby's 400.
    let refused = hijack(
        &d,
        &format!("/containers/{name}/attach?stream=1&stdin=1&detachKeys=ctrl-p,ctrl-PP"),
        "",
    );
    let refused = refused.expect_err("a bad spec was accepted");
    assert!(refused.starts_with("HTTP/1.1 400"), "{refused}");
    assert!(
        refused.contains("Invalid detach keys (ctrl-p,ctrl-PP) provided"),
        "{refused}"
    );
    d.docker(&["rm", "-f", &name], &[]).ok();
}

#[test]
fn without_a_terminal_the_detach_keys_are_data() {
    let env = Env::new("attach_keys_no_tty");
    let d = Daemon::start(&env);
    let name = env.name("cat");
    d.docker(&["run", "-di", "--name", &name, "busybox", "cat"], &[])
        .ok();
    let path = format!("/containers/{name}/attach?stream=1&stdin=1&stdout=1");
    let mut s = hijack(&d, &path, "").unwrap();
    let mut seen = Vec::new();
    s.write_all(b"a\x10\x11b\n").unwrap();
    // `cat` echoes them, in a stdout frame (no terminal: multiplexed).
    read_until(&mut s, &mut seen, "a\x10\x11b\n");
    assert_eq!(status(&d, &name), "running");
    d.docker(&["rm", "-f", &name], &[]).ok();
}

#[test]
fn an_exec_with_a_terminal_detaches_on_its_keys_and_keeps_running() {
    let env = Env::new("attach_exec_keys");
    let d = Daemon::start(&env);
    let name = env.name("host");
    d.docker(
        &["run", "-d", "--name", &name, "busybox", "sleep", "1000"],
        &[],
    )
    .ok();
    let create = |keys: &str| {
        d.request(
            "POST",
            &format!("/containers/{name}/exec"),
            Some(&format!(
                r#"{{"Cmd":["sh"],"AttachStdin":true,"AttachStdout":true,"Tty":true,"DetachKeys":"{keys}"}}"#
            )),
        )
    };
    let bad = create("ctrl-");
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(
        bad.body.contains("Invalid escape keys (ctrl-) provided"),
        "{}",
        bad.body
    );
    let exec = create("ctrl-e").json()["Id"].as_str().unwrap().to_string();
    let mut s = hijack(&d, &format!("/exec/{exec}/start"), r#"{"Tty":true}"#).unwrap();
    let mut seen = Vec::new();
    s.write_all(b"echo in-exec-$((4+4))\n").unwrap();
    read_until(&mut s, &mut seen, "in-exec-8\r\n");
    s.write_all(b"\x05").unwrap();
    assert!(
        closed(&mut s, &mut seen),
        "ctrl-e did not end the exec's attach"
    );
    let inspect = d.request("GET", &format!("/exec/{exec}/json"), None).json();
    assert_eq!(inspect["Running"], true, "{inspect}");
    // moby's `[]byte`: base64 in JSON.
    assert_eq!(inspect["DetachKeys"], "BQ==", "{inspect}");
    d.docker(&["rm", "-f", &name], &[]).ok();
}

#[test]
fn logs_replays_what_a_container_wrote_and_without_stream_only_that() {
    let env = Env::new("attach_logs");
    let d = Daemon::start(&env);
    let name = env.name("past");
    d.docker(
        &[
            "run",
            "--name",
            &name,
            "busybox",
            "sh",
            "-c",
            "echo one; echo two >&2",
        ],
        &[],
    )
    .ok();
    // Stopped: only the past can be read (`stream=1` is docker's 409).
    let path = format!("/containers/{name}/attach?logs=1&stdout=1&stderr=1");
    let past = d.request("POST", &path, None);
    assert_eq!(past.status, 200, "{}", past.body);
    let mut got: Vec<&str> = Vec::new();
    let frames = past.frames();
    got.extend(frames.lines());
    got.sort_unstable();
    assert_eq!(got, ["one", "two"], "{:?}", past.raw);
    let only_out = d.request("POST", &format!("{path}&stderr=0"), None);
    assert_eq!(only_out.frames(), "one\n");
    let streaming = d.request("POST", &format!("{path}&stream=1"), None);
    assert_eq!(streaming.status, 409, "{}", streaming.body);
    // The websocket: the same past, raw, then the close.
    let mut ws = websocket(&d, &format!("/containers/{name}/attach/ws?logs=1&stdout=1")).unwrap();
    let mut seen = Vec::new();
    assert!(ws_read(&mut ws, &mut seen, None).is_none());
    assert_eq!(String::from_utf8_lossy(&seen), "one\n");
    d.docker(&["rm", &name], &[]).ok();
}
