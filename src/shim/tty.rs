//! A container's terminal, held by its shim: `run -t`.
//!
//! The shim opens the pty and gives the slave to the container as stdin, stdout, stderr and
//! controlling terminal. It keeps the master for the container's whole life — so a detached
//! `-dit` container keeps its terminal when no one is attached — and reads it into the json log
//! (and, when the CLI is attached, onto the CLI's terminal, which the shim inherited as stdout).
//!
//! The CLI needs the master too, to type into it and to set the window size. The shim listens
//! on `tty.sock` in the bundle and hands a copy of the master to whoever connects, with
//! `SCM_RIGHTS`; reading stays the shim's job, so no output is read twice or lost.
//!
//! Not here: raw mode and the relay on the CLI's side (`engine::tty`).

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

use crate::engine::tty::{self, Size};

/// The environment variable that carries the CLI's window size to the shim: `ROWSxCOLS`.
pub const SIZE_ENV: &str = "CTRACE_TTY_SIZE";

/// The shim's end: the master and the socket that hands it out.
pub struct Console {
    pub master: OwnedFd,
    listener: UnixListener,
}

/// Runs `f` on a short path to `name` in `dir`: a socket path is limited to 108 bytes, and a
/// bundle under a long exec root may need more, so go through `/proc/self/fd/<dir fd>/`.
fn in_dir<T>(
    dir: &Path,
    name: &str,
    f: impl FnOnce(&str) -> std::io::Result<T>,
) -> std::io::Result<T> {
    let d = std::fs::File::open(dir)?;
    f(&format!("/proc/self/fd/{}/{name}", d.as_raw_fd()))
}

impl Console {
    /// Opens the pty in the devpts of the container whose init is `pid` (sized as the CLI's
    /// terminal, when it said) and listens in `bundle`. Returns the console and the slave for
    /// the container.
    pub fn open(bundle: &Path, pid: i32) -> std::io::Result<(Console, OwnedFd)> {
        let size = std::env::var(SIZE_ENV).ok().and_then(|s| parse_size(&s));
        let (master, slave) = tty::open_pty_in(pid, size).or_else(|_| tty::open_pty(size))?;
        let _ = std::fs::remove_file(bundle.join("tty.sock"));
        let listener = in_dir(bundle, "tty.sock", |p| UnixListener::bind(p))?;
        listener.set_nonblocking(true)?;
        Ok((Console { master, listener }, slave))
    }

    pub fn listener(&self) -> BorrowedFd<'_> {
        self.listener.as_fd()
    }

    /// Accepts one client and sends it a copy of the master.
    pub fn serve(&self) {
        while let Ok((conn, _)) = self.listener.accept() {
            let _ = send_fd(&conn, &self.master);
        }
    }
}

/// Sends one fd over a unix socket (to the init, or to a CLI).
pub fn send_fd(sock: &UnixStream, fd: &OwnedFd) -> std::io::Result<()> {
    let fds = [fd.as_raw_fd()];
    sendmsg::<()>(
        sock.as_raw_fd(),
        &[IoSlice::new(b"t")],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )?;
    Ok(())
}

fn parse_size(s: &str) -> Option<Size> {
    let (r, c) = s.split_once('x')?;
    Some(Size {
        rows: r.parse().ok()?,
        cols: c.parse().ok()?,
    })
}

/// `ROWSxCOLS` for [`SIZE_ENV`].
pub fn size_env(size: Size) -> String {
    format!("{}x{}", size.rows, size.cols)
}

/// The CLI's end: connects to the shim of the container in `bundle` and receives the master.
pub fn connect(bundle: &Path) -> std::io::Result<OwnedFd> {
    let conn = in_dir(bundle, "tty.sock", |p| UnixStream::connect(p))?;
    let mut byte = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(&fd) = fds.first() {
                // SAFETY: the kernel just installed this fd for us.
                return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    Err(std::io::Error::other("the shim sent no terminal"))
}
