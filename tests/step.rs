//! `--step` driven through a real pseudo-terminal, as a learner at a keyboard would: Enter through
//! a whole run, `s` to look at the live state, `q` to quit and roll back, and the refusal when
//! stdin is not a terminal.

mod common;

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{cgroups_of, within, Env, PATIENCE};

const PROMPT: &str = "[Enter] next phase";

/// A ctrace process whose stdin and stderr are the slave side of a pty we hold the master of.
struct Session {
    child: Child,
    master: std::fs::File,
    screen: Arc<Mutex<String>>,
    /// Copies the pty to `screen` until every holder of the slave side is gone.
    reader: std::thread::JoinHandle<()>,
    /// Prompts answered so far.
    answered: usize,
}

impl Session {
    fn spawn(env: &Env, args: &[&str]) -> Session {
        let pty = nix::pty::openpty(None, None).expect("openpty");
        let slave: OwnedFd = pty.slave;
        let mut cmd = env.cmd(args);
        cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::piped());
        let child = cmd.spawn().expect("spawn ctrace");
        // Only the child (and what it starts) may hold the slave: the master then reads EOF/EIO
        // once they are all gone.
        drop(slave);
        let master = std::fs::File::from(pty.master);
        let screen = Arc::new(Mutex::new(String::new()));
        let (mut reader, sink) = (master.try_clone().unwrap(), screen.clone());
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Session {
            child,
            master,
            screen,
            reader,
            answered: 0,
        }
    }

    fn screen(&self) -> String {
        self.screen.lock().unwrap().clone()
    }

    /// Waits (a little) until the reader has copied everything the process wrote: it ends when
    /// the last holder of the pty's slave side is gone.
    fn drained(&self) {
        within(Duration::from_secs(5), || {
            self.reader.is_finished().then_some(())
        });
    }

    /// Waits for the next prompt (a guard against hanging, not a timing assertion); false when
    /// the process exited instead.
    fn next_prompt(&mut self) -> bool {
        let prompted = |s: &Session| s.screen().matches(PROMPT).count() > s.answered;
        let answer = within(Duration::from_secs(120), || {
            if prompted(self) {
                return Some(true);
            }
            if self.child.try_wait().unwrap().is_some() {
                // Whatever it printed last may still be in the pty.
                self.drained();
                return Some(prompted(self));
            }
            None
        });
        answer.unwrap_or_else(|| panic!("no prompt; the screen so far:\n{}", self.screen()))
    }

    /// Answers the current prompt with `key`.
    fn press(&mut self, key: &[u8]) {
        self.master.write_all(key).unwrap();
        self.master.flush().unwrap();
        if key != b"s" {
            self.answered += 1;
        } else {
            // `s` prints the state and asks again: that new prompt is the one to answer next.
            let before = self.screen().matches(PROMPT).count();
            let asked = within(PATIENCE, || {
                (self.screen().matches(PROMPT).count() > before).then_some(())
            });
            assert!(asked.is_some(), "no prompt after s");
            self.answered += 1;
        }
    }

    /// Presses Enter at every prompt until the screen shows `phase`'s pause (or to the end).
    fn enter_until(&mut self, phase: Option<&str>) {
        while self.next_prompt() {
            let screen = self.screen();
            if let Some(p) = phase {
                let last = screen.rsplit("━━ ").next().unwrap_or("");
                if last.starts_with(&format!("{p} ")) {
                    return;
                }
            }
            self.press(b"\r");
        }
        assert!(
            phase.is_none(),
            "never paused at {phase:?}:\n{}",
            self.screen()
        );
    }

    fn finish(mut self) -> (i32, String, String) {
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        let code = self.child.wait().unwrap().code().unwrap_or(-1);
        self.drained();
        (code, out, self.screen())
    }
}

/// The 64-hex container id the step screen names (in its paths).
fn container_id(screen: &str) -> String {
    let at = screen.find("/containers/").expect("a container path") + "/containers/".len();
    screen[at..at + 64].to_string()
}

#[test]
fn enter_steps_through_every_phase_of_a_run() {
    let env = Env::new("step_enter");
    let name = env.name("s");
    let mut s = Session::spawn(
        &env,
        &[
            "run",
            "--rm",
            "--step",
            "--network",
            "none",
            "--name",
            &name,
            "busybox",
            "echo",
            "hi",
        ],
    );
    s.enter_until(None);
    let (code, out, screen) = s.finish();
    assert_eq!(code, 0, "{screen}");
    assert_eq!(out, "hi\n");
    // Every phase of create and start, in order, each paused on with its lesson.
    let mut at = 0;
    for phase in [
        "client.connect",
        "create.image.lookup",
        "create.config",
        "create.id",
        "create.register",
        "start.lookup",
        "start.lock",
        "start.mount",
        "start.spec",
        // The shim's and the init's own phases pause too (the embedded runtime).
        "runtime.cgroup",
        "runtime.clone",
        "init.mounts",
        "init.pivot_root",
        "init.process",
        "start.runtime.create",
        "start.network.attach",
        "start.runtime.start",
        "start.checkpoint",
        "start.event",
    ] {
        let pos = screen[at..]
            .find(&format!("━━ {phase} "))
            .unwrap_or_else(|| panic!("no pause at {phase} (after byte {at}):\n{screen}"));
        at += pos;
    }
    assert!(screen.contains("Mount the root filesystem"), "{screen}");
    // After the runtime's create, a recap of what the shim and the init did.
    let recap = screen
        .split("━━ start.runtime.create ")
        .nth(1)
        .and_then(|r| r.split("━━ ").next())
        .unwrap();
    for inside in ["runtime.clone", "init.pivot_root", "init.process"] {
        assert!(recap.contains(inside), "{inside} missing:\n{recap}");
    }
    // The commands to try name this container's real paths.
    let id = container_id(&screen);
    assert!(
        screen.contains(&format!(
            "findmnt -R {}",
            env.exec_root.join(&id).join("rootfs").display()
        )),
        "{screen}"
    );
}

#[test]
fn s_shows_the_live_state_of_the_container() {
    let env = Env::new("step_show");
    let name = env.name("s");
    let mut s = Session::spawn(
        &env,
        &[
            "run", "--rm", "--step", "-m", "64m", "--name", &name, "busybox", "true",
        ],
    );
    s.enter_until(Some("start.runtime.create"));
    s.press(b"s");
    let screen = s.screen();
    let state = screen.rsplit("── live state").next().unwrap().to_string();
    let id = container_id(&screen);
    // The overlay rootfs and the named netns, on the host.
    assert!(
        state.contains(&format!(
            "{}  (overlay)",
            env.exec_root.join(&id).join("rootfs").display()
        )),
        "{state}"
    );
    assert!(state.contains("(nsfs)"), "{state}");
    // Inside the container's mount namespace: the pivoted root.
    assert!(state.contains("   /  (overlay)"), "{state}");
    // The netns has only lo until start.network.attach.
    assert!(state.contains("lo "), "{state}");
    assert!(!state.contains("eth0"), "{state}");
    // The cgroup holds the init, with the memory limit written.
    let init: i32 = screen
        .split("→ init ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .expect("init pid in the note");
    assert!(state.contains(&format!("cgroup.procs: {init}")), "{state}");
    assert!(
        state.contains("memory.max: 67108864") || state.contains("memory.limit_in_bytes: 67108864"),
        "{state}"
    );
    assert!(state.contains(&format!("init  pid {init} ")), "{state}");
    s.enter_until(None);
    let (code, _, screen) = s.finish();
    assert_eq!(code, 0, "{screen}");
}

#[test]
fn s_shows_the_simulated_host_in_a_simulated_run() {
    let env = Env::new("step_sim");
    let name = env.name("s");
    let mut s = Session::spawn(
        &env,
        &[
            "--sim", "run", "--rm", "--step", "-m", "64m", "--name", &name, "busybox", "true",
        ],
    );
    s.enter_until(Some("start.runtime.create"));
    s.press(b"s");
    let screen = s.screen();
    let state = screen.rsplit("── live state").next().unwrap().to_string();
    let id = container_id(&screen);
    // The modelled host: the container's overlay in the host's mount table, the init in its own
    // namespaces and cgroup, with the memory limit written into the modelled cgroup file.
    assert!(state.contains("overlay"), "{state}");
    assert!(state.contains("init"), "{state}");
    assert!(
        state.contains(&format!("/sys/fs/cgroup/ctrace/{id}")),
        "{state}"
    );
    assert!(
        state.contains("memory.max               67108864"),
        "{state}"
    );
    // The commands to try look at the simulated host, not the real one.
    assert!(screen.contains("sim host"), "{screen}");
    s.enter_until(None);
    let (code, _, screen) = s.finish();
    assert_eq!(code, 0, "{screen}");
}

#[test]
fn q_rolls_back_everything_the_run_did() {
    let env = Env::new("step_quit");
    let name = env.name("s");
    let mut s = Session::spawn(
        &env,
        &["run", "--step", "--name", &name, "busybox", "sleep", "1000"],
    );
    // Past the runtime's create and the network attach: a shim, an init, a cgroup, a netns, a
    // veth and a lease exist.
    s.enter_until(Some("start.network.attach"));
    let id = container_id(&s.screen());
    assert!(!cgroups_of(&id).is_empty());
    s.press(b"q");
    let (code, out, screen) = s.finish();
    assert_eq!(code, 130, "{screen}");
    assert!(out.is_empty(), "{out}");
    assert!(
        screen.contains("ctrace: aborted after start.network.attach (--step)"),
        "{screen}"
    );
    env.assert_nothing_left_of(&id);
    // The trace shows the quit and the rollback.
    let t = env.traces().pop().unwrap();
    let names: Vec<&str> = t["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"rollback.undo"), "{names:?}");
}

#[test]
fn q_inside_the_init_rolls_back_the_shim_the_init_and_the_cgroup() {
    let env = Env::new("step_quit_init");
    let name = env.name("s");
    let mut s = Session::spawn(
        &env,
        &["run", "--step", "--name", &name, "busybox", "sleep", "1000"],
    );
    s.enter_until(Some("init.mounts"));
    let screen = s.screen();
    let id = container_id(&screen);
    // Paused inside the init: it exists, in its cgroup, with its mounts done.
    let init: i32 = screen
        .split("/proc/")
        .filter_map(|r| r.split('/').next()?.parse().ok())
        .last()
        .expect("the init's pid in a command to try");
    assert!(std::path::Path::new(&format!("/proc/{init}")).exists());
    assert!(!cgroups_of(&id).is_empty());
    s.press(b"q");
    let (code, _, screen) = s.finish();
    assert_eq!(code, 130, "{screen}");
    assert!(
        screen.contains("ctrace: aborted after init.mounts (--step)"),
        "{screen}"
    );
    env.assert_nothing_left_of(&id);
    assert!(
        !std::path::Path::new(&format!("/proc/{init}")).exists()
            || std::fs::read_to_string(format!("/proc/{init}/cmdline"))
                .map_or(true, |c| !c.contains(&id)),
        "the init survived"
    );
}

#[test]
fn q_during_create_leaves_no_container() {
    let env = Env::new("step_quit_create");
    let name = env.name("s");
    let mut s = Session::spawn(
        &env,
        &["create", "--step", "--name", &name, "busybox", "true"],
    );
    s.enter_until(Some("create.register"));
    s.press(b"q");
    let (code, out, screen) = s.finish();
    assert_eq!(code, 130, "{screen}");
    assert!(out.is_empty(), "create printed an id: {out}");
    assert!(env.ids().is_empty());
    // The name is free again.
    env.run(&["create", "--name", &name, "busybox", "true"])
        .ok();
}

#[test]
fn lang_zh_steps_in_chinese() {
    let env = Env::new("step_zh");
    let mut s = Session::spawn(
        &env,
        &["create", "--step", "--lang", "zh", "busybox", "true"],
    );
    // The prompt is in Chinese: answer it with q at the first pause.
    let asked = within(Duration::from_secs(120), || {
        s.screen().contains("[q] 退出并回滚").then_some(())
    });
    assert!(asked.is_some(), "{}", s.screen());
    let screen = s.screen();
    assert!(screen.contains("━━ create.validate"), "{screen}");
    assert!(screen.contains("在另一个终端里试试"), "{screen}");
    s.master.write_all(b"q").unwrap();
    let (code, _, screen) = s.finish();
    assert_eq!(code, 130, "{screen}");
    assert!(screen.contains("退出：回滚本命令所做的一切"), "{screen}");
    assert!(env.ids().is_empty());
}

#[test]
fn step_refuses_without_a_terminal_and_changes_nothing() {
    let env = Env::new("step_notty");
    for args in [
        &["run", "--rm", "--step", "busybox", "true"][..],
        &["create", "--step", "busybox", "true"][..],
    ] {
        let r = env.run(args);
        assert_eq!(r.code, 125, "{}", r.stderr);
        assert_eq!(
            r.stderr.trim(),
            "ctrace: --step needs an interactive terminal: run it from a terminal, or drop --step"
        );
    }
    let web = env.name("web");
    env.run(&["create", "--name", &web, "busybox", "true"]).ok();
    // docker's start exits 1 on errors, run and create 125.
    let r = env.run(&["start", "--step", &web]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("--step needs an interactive terminal"));
    assert_eq!(env.ids().len(), 1);
}
