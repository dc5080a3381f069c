//! A terminal for a test: a pseudo-terminal pair whose master the test holds, like a terminal
//! emulator, with a program started on the slave as its controlling terminal.
//!
//! Not here: what is typed (the tests).

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub struct Term {
    master: std::fs::File,
    output: mpsc::Receiver<Vec<u8>>,
    seen: Vec<u8>,
    slave: OwnedFd,
}

impl Term {
    pub fn new(rows: u16, cols: u16) -> Term {
        let pty = nix::pty::openpty(None, None).unwrap();
        let term = {
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
        };
        term.resize(rows, cols);
        term
    }

    /// Sets the window size (the kernel sends SIGWINCH to the terminal's foreground group).
    pub fn resize(&self, rows: u16, cols: u16) {
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    }

    /// Starts `cmd` on the slave, as its controlling terminal.
    pub fn spawn(&self, cmd: &mut Command) -> Child {
        cmd.stdin(Stdio::from(self.slave.try_clone().unwrap()))
            .stdout(Stdio::from(self.slave.try_clone().unwrap()))
            .stderr(Stdio::from(self.slave.try_clone().unwrap()));
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                libc::ioctl(0, libc::TIOCSCTTY, 0);
                Ok(())
            });
        }
        cmd.spawn().unwrap()
    }

    pub fn type_(&mut self, text: &str) {
        self.master.write_all(text.as_bytes()).unwrap();
    }

    /// Reads until `needle` shows up (a generous guard so a broken build fails instead of
    /// hanging; not a timing assertion); what came before it.
    pub fn expect(&mut self, needle: &str) -> String {
        loop {
            if String::from_utf8_lossy(&self.seen).contains(needle) {
                let s = String::from_utf8_lossy(&self.seen).into_owned();
                let at = s.find(needle).unwrap();
                self.seen = s.as_bytes()[at + needle.len()..].to_vec();
                return s[..at].to_string();
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
