//! Interactive containers through a real pseudo-terminal pair: the test holds the master like a
//! terminal emulator, ctrace runs on the slave. `run -it` and `exec -it` (typing, window size,
//! ^C, exit codes, the terminal restored), and `-i` piping without a terminal.

mod common;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{eventually, within, Env, PATIENCE};

/// A terminal: the pty master, and what ctrace wrote to it so far.
struct Term {
    master: std::fs::File,
    output: mpsc::Receiver<Vec<u8>>,
    seen: Vec<u8>,
    slave: OwnedFd,
}

fn set_size(fd: i32, rows: u16, cols: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) };
}

fn lflag(fd: i32) -> libc::tcflag_t {
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::tcgetattr(fd, &mut t) }, 0);
    t.c_lflag
}

impl Term {
    fn new(rows: u16, cols: u16) -> Term {
        let pty = nix::pty::openpty(None, None).unwrap();
        set_size(pty.master.as_raw_fd(), rows, cols);
        let master = std::fs::File::from(pty.master);
        let mut reader = master.try_clone().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Term {
            master,
            output: rx,
            seen: Vec::new(),
            slave: pty.slave,
        }
    }

    /// Starts `ctrace ARGS` on the slave as its controlling terminal.
    fn spawn(&self, env: &Env, args: &[&str]) -> Child {
        let slave = self.slave.as_raw_fd();
        let mut cmd = env.cmd(args);
        cmd.stdin(Stdio::from(self.slave.try_clone().unwrap()))
            .stdout(Stdio::from(self.slave.try_clone().unwrap()))
            .stderr(Stdio::from(self.slave.try_clone().unwrap()));
        unsafe {
            cmd.pre_exec(move || {
                libc::setsid();
                libc::ioctl(0, libc::TIOCSCTTY, 0);
                let _ = slave;
                Ok(())
            });
        }
        cmd.spawn().unwrap()
    }

    fn type_(&mut self, text: &str) {
        self.master.write_all(text.as_bytes()).unwrap();
    }

    /// Reads until `needle` shows up (a generous guard so a broken build fails instead of
    /// hanging; not a timing assertion).
    fn expect(&mut self, needle: &str) {
        loop {
            if String::from_utf8_lossy(&self.seen).contains(needle) {
                let s = String::from_utf8_lossy(&self.seen).into_owned();
                let at = s.find(needle).unwrap() + needle.len();
                self.seen = s.as_bytes()[at..].to_vec();
                return;
            }
            match self.output.recv_timeout(Duration::from_secs(60)) {
                Ok(b) => self.seen.extend(b),
                Err(_) => panic!(
                    "never saw {needle:?}; the terminal shows {:?}",
                    String::from_utf8_lossy(&self.seen)
                ),
            }
        }
    }
}

/// The children of `pid` whose command line is `cmdline` (NUL-separated), with their process
/// group and their terminal's foreground process group (`/proc/<pid>/stat`: pgrp, tpgid).
fn children_with(pid: i32, cmdline: &str) -> Vec<(i32, i32)> {
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    children
        .split_whitespace()
        .filter(|c| {
            std::fs::read(format!("/proc/{c}/cmdline")).ok().as_deref() == Some(cmdline.as_bytes())
        })
        .filter_map(|c| {
            let stat = std::fs::read_to_string(format!("/proc/{c}/stat")).ok()?;
            let after = &stat[stat.rfind(')')? + 2..];
            let f: Vec<&str> = after.split_whitespace().collect();
            Some((f.get(2)?.parse().ok()?, f.get(5)?.parse().ok()?))
        })
        .collect()
}

/// A child of `pid` running `cmdline` is its terminal's foreground job.
fn foreground_child(pid: i32, cmdline: &str) -> bool {
    children_with(pid, cmdline)
        .iter()
        .any(|(pgrp, tpgid)| pgrp == tpgid)
}

fn child_running(pid: i32, cmdline: &str) -> bool {
    !children_with(pid, cmdline).is_empty()
}

#[test]
fn run_it_is_a_real_terminal() {
    let env = Env::new("tty_run");
    let mut term = Term::new(33, 101);
    let cooked = lflag(term.slave.as_raw_fd());
    let name = env.name("shell");
    let mut cli = term.spawn(
        &env,
        &["run", "-it", "--rm", "--name", &name, "busybox", "sh"],
    );

    // Typed keys reach the shell, its output comes back.
    term.type_("echo $((6*7))\r");
    term.expect("42\r\n");
    // The container's terminal has our window size, and follows it on SIGWINCH.
    term.type_("stty size\r");
    term.expect("33 101");
    // The terminal is the container's own (its devpts), as with runc: it has a name in there.
    term.type_("tty\r");
    term.expect("/dev/pts/0\r\n");
    set_size(term.master.as_raw_fd(), 40, 120);
    unsafe { libc::kill(cli.id() as i32, libc::SIGWINCH) };
    term.type_("stty size\r");
    term.expect("40 120");
    // ^C is a byte to the container's terminal, which interrupts the foreground command there,
    // not the CLI. It reaches the terminal's foreground process group only: `sleep` showing up
    // is not enough (the shell forks it, then makes its group the terminal's foreground job,
    // and a ^C in between goes to the shell, which ignores it — what made this test once need a
    // second ^C). So wait until `sleep`'s group *is* the terminal's foreground group, then type
    // ^C once.
    term.type_("sleep 1000\r");
    let init = env.state(&name)["Pid"].as_i64().expect("the shell's pid") as i32;
    let foreground_sleep = || foreground_child(init, "sleep\x001000\x00");
    eventually(foreground_sleep, PATIENCE);
    term.type_("\x03");
    eventually(|| !child_running(init, "sleep\x001000\x00"), PATIENCE);
    term.type_("echo $((40+2))x\r");
    term.expect("42x\r\n");
    // The container's exit code is the CLI's, and our terminal is back in cooked mode.
    term.type_("exit 3\r");
    assert_eq!(cli.wait().unwrap().code(), Some(3));
    assert_eq!(
        lflag(term.slave.as_raw_fd()),
        cooked,
        "terminal not restored"
    );
    assert!(env.ids().is_empty(), "--rm removed the container");
}

#[test]
fn exec_it_is_a_real_terminal() {
    let env = Env::new("tty_exec");
    let name = env.name("box");
    env.detached(&name, &["sleep", "1000"]);
    let mut term = Term::new(24, 80);
    let cooked = lflag(term.slave.as_raw_fd());
    let mut cli = term.spawn(&env, &["exec", "-it", &name, "sh"]);
    term.type_("echo $((6*7)); stty size; tty\r");
    term.expect("42\r\n24 80\r\n/dev/pts/");
    term.type_("exit 5\r");
    assert_eq!(cli.wait().unwrap().code(), Some(5));
    assert_eq!(
        lflag(term.slave.as_raw_fd()),
        cooked,
        "terminal not restored"
    );
}

#[test]
fn detached_it_container_keeps_its_terminal_and_logs_it() {
    let env = Env::new("tty_detached");
    let name = env.name("box");
    env.run(&["run", "-dit", "--name", &name, "busybox", "sh"])
        .ok();
    // Without a client the shell is still alive, its stdin is the terminal the shim holds.
    let r = env.run(&["exec", &name, "ps", "-o", "pid,args"]);
    assert!(
        r.ok().stdout.lines().any(|l| l.trim() == "1 sh"),
        "{}",
        r.stdout
    );
    let v = env.inspect(&name);
    assert_eq!(v["State"]["Status"], "running");
    assert_eq!(v["Config"]["Tty"], true);
    // What is written to the terminal is in the log, with the terminal's line endings, once the
    // shim has drained it at the exit.
    env.run(&["exec", &name, "sh", "-c", "echo marker > /proc/1/fd/1"])
        .ok();
    env.run(&["stop", "-t", "1", &name]).ok();
    let logs = env.run(&["logs", &name]);
    assert!(logs.ok().stdout.contains("marker\r\n"), "{:?}", logs.stdout);
}

#[test]
fn i_pipes_stdin_without_a_terminal() {
    let env = Env::new("tty_pipe");
    let mut child = env
        .cmd(&["run", "-i", "--rm", "busybox", "sh", "-c", "cat; exit 4"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"hi\nthere\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\nthere\n");
    assert_eq!(out.status.code(), Some(4));
    // And -it with a stdin that is not a terminal is refused, like docker, creating nothing.
    let r = env.run(&["run", "-it", "--rm", "busybox", "sh"]);
    assert_eq!(r.code, 1);
    assert_eq!(r.stderr.trim(), "ctrace: the input device is not a TTY");
    assert!(env.ids().is_empty());
}

#[test]
fn run_it_in_a_simulated_container_is_a_terminal_too() {
    let env = Env::new("tty_sim");
    let mut term = Term::new(24, 80);
    let mut cli = term.spawn(&env, &["--sim", "run", "-it", "--rm", "busybox", "sh"]);
    // busybox's prompt, typed keys reach the simulated shell, its output comes back.
    term.expect("/ # ");
    term.type_("echo sim-$HOSTNAME-ok; hostname\r");
    term.expect("sim-");
    term.expect("/ # ");
    term.type_("exit 4\r");
    let status = within(PATIENCE, || cli.try_wait().unwrap()).expect("the CLI ends");
    assert_eq!(status.code(), Some(4));
}
