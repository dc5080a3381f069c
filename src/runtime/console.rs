//! A container's terminal (`run -t`, `run -it`, `start -ai`, `exec -it`): both halves of the pty
//! protocol between the shim, which holds the container's terminal, and the CLI, which relays the
//! user's terminal to it.
//!
//! The container's process gets the pty's slave as stdin, stdout, stderr and controlling
//! terminal. For `run`, the shim opens the pty ([`Console::open`]) and keeps the master for the
//! container's whole life — so a detached `-dit` container keeps its terminal when no one is
//! attached — and reads it into the json log (and, when the CLI is attached, onto the CLI's
//! terminal, which the shim inherited as stdout). The CLI needs the master too, to type into it
//! and to set the window size: the shim listens on `tty.sock` in the bundle and hands a copy of
//! the master to whoever connects ([`connect`]), with `SCM_RIGHTS`; reading stays the shim's
//! job, so no output is read twice or lost. For `exec`, the CLI opens the pty itself.
//!
//! On the CLI's side our own terminal goes to raw mode so every key, ^C included, reaches the
//! container as a byte: the pty's line discipline there turns ^C into SIGINT for the container's
//! foreground process, as a local terminal would. The window size is copied at start (through
//! [`SIZE_ENV`] to the shim) and on every SIGWINCH. Raw mode is undone by a guard, so a failure
//! or a panic still leaves the user's terminal usable.
//!
//! Not here: when a container gets a terminal (the engine's start and exec), copying the
//! container's output to the log (the shim's io).

use std::io::{IoSlice, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use nix::sys::termios::{self, SetArg, Termios};

/// Window size, as `TIOCGWINSZ` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Size {
    pub rows: u16,
    pub cols: u16,
}

/// Whether `fd` is a terminal.
pub fn is_terminal(fd: RawFd) -> bool {
    // SAFETY: isatty only inspects the fd.
    unsafe { libc::isatty(fd) == 1 }
}

/// The window size of the terminal on `fd`.
pub fn size_of(fd: RawFd) -> Option<Size> {
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize.
    let rc = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_row > 0).then_some(Size {
        rows: ws.ws_row,
        cols: ws.ws_col,
    })
}

/// Sets the window size of the pty whose master (or slave) is `fd`; the kernel sends SIGWINCH
/// to its foreground process group.
pub fn resize(fd: RawFd, size: Size) {
    let ws = libc::winsize {
        ws_row: size.rows,
        ws_col: size.cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize.
    unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) };
}

/// A new pty pair, both ends close-on-exec (the slave is dup'd onto the process's stdio).
pub fn open_pty(size: Option<Size>) -> std::io::Result<(OwnedFd, OwnedFd)> {
    let pty = nix::pty::openpty(None, None)?;
    for fd in [pty.master.as_raw_fd(), pty.slave.as_raw_fd()] {
        // SAFETY: plain fcntl on fds we own.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    if let Some(s) = size {
        resize(pty.master.as_raw_fd(), s);
    }
    Ok((pty.master, pty.slave))
}

/// A new pty pair from the container's own devpts instance (its `/dev/pts/ptmx`, reached
/// through `/proc/<pid>/root`), as runc allocates one: inside the container the slave has a
/// name (`tty` prints `/dev/pts/0`, `ps` shows it). The slave is opened with `TIOCGPTPEER`, so
/// no path in the container is trusted beyond the ptmx node, which must be the real one (5:2).
#[cfg(target_os = "linux")]
pub fn open_pty_in(pid: i32, size: Option<Size>) -> std::io::Result<(OwnedFd, OwnedFd)> {
    use std::os::fd::FromRawFd;
    use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
    let path = format!("/proc/{pid}/root/dev/pts/ptmx");
    let master = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&path)?;
    let md = master.metadata()?;
    if !md.file_type().is_char_device() || md.rdev() != libc::makedev(5, 2) {
        return Err(std::io::Error::other(format!(
            "{path} is not a ptmx device"
        )));
    }
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int; TIOCGPTPEER returns a new fd for the slave.
    unsafe {
        if libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let slave = libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        );
        if slave < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if let Some(s) = size {
            resize(master.as_raw_fd(), s);
        }
        Ok((OwnedFd::from(master), OwnedFd::from_raw_fd(slave)))
    }
}

/// Our terminal in raw mode until dropped.
pub struct RawMode {
    fd: RawFd,
    saved: Termios,
}

impl RawMode {
    /// Puts the terminal on `fd` in raw mode.
    pub fn enter(fd: RawFd) -> std::io::Result<RawMode> {
        Self::set(fd, false)
    }

    /// Raw input (keys and ^C are bytes for us), but output still processed, so what we print
    /// ourselves (the `--explain` timeline while the container starts) keeps its line breaks.
    pub fn enter_input(fd: RawFd) -> std::io::Result<RawMode> {
        Self::set(fd, true)
    }

    fn set(fd: RawFd, keep_output: bool) -> std::io::Result<RawMode> {
        // SAFETY: the fd stays open for our lifetime (it is the process's stdin).
        let b = unsafe { BorrowedFd::borrow_raw(fd) };
        let saved = termios::tcgetattr(b)?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        if keep_output {
            raw.output_flags = saved.output_flags;
        }
        termios::tcsetattr(b, SetArg::TCSANOW, &raw)?;
        Ok(RawMode { fd, saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: as in `enter`.
        let b = unsafe { BorrowedFd::borrow_raw(self.fd) };
        let _ = termios::tcsetattr(b, SetArg::TCSANOW, &self.saved);
    }
}

static WINCH: AtomicBool = AtomicBool::new(false);

extern "C" fn on_winch(_: libc::c_int) {
    WINCH.store(true, Ordering::Relaxed);
}

/// Notes SIGWINCH (without SA_RESTART, so a blocked `poll` wakes up with EINTR).
pub fn watch_window_size() {
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_winch as *const () as libc::sighandler_t;
        libc::sigaction(libc::SIGWINCH, &sa, std::ptr::null_mut());
    }
}

/// Whether the window changed since the last call.
pub fn window_changed() -> bool {
    WINCH.swap(false, Ordering::Relaxed)
}

/// Copies `input` to `to` and `from` to `output` until `from` ends (the pty's slave is closed
/// by every process that had it) or `done` becomes readable (a pidfd of the process: then what
/// is left in `from` is drained). `on_resize` is called on SIGWINCH.
pub fn relay(
    input: Option<BorrowedFd<'_>>,
    to: &mut std::fs::File,
    from: &mut std::fs::File,
    output: &mut dyn Write,
    done: Option<BorrowedFd<'_>>,
    on_resize: &mut dyn FnMut(),
) {
    let mut buf = vec![0u8; 32 * 1024];
    let mut input = input;
    let mut finished = false;
    loop {
        if window_changed() {
            on_resize();
        }
        let mut fds = vec![PollFd::new(from.as_fd(), PollFlags::POLLIN)];
        if let Some(i) = input {
            fds.push(PollFd::new(i, PollFlags::POLLIN));
        }
        let done_at = fds.len();
        if let (false, Some(d)) = (finished, done) {
            fds.push(PollFd::new(d, PollFlags::POLLIN));
        }
        // Once the process is gone, only what it already wrote is left: don't wait for more.
        let timeout = if finished {
            PollTimeout::ZERO
        } else {
            PollTimeout::NONE
        };
        match poll(&mut fds, timeout) {
            Ok(0) => return,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return,
        }
        let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
        let from_ready = ready(&fds[0]);
        let input_ready = input.is_some() && ready(&fds[1]);
        let done_ready = fds.get(done_at).is_some_and(ready);
        drop(fds);
        if from_ready {
            match from.read(&mut buf) {
                Ok(n) if n > 0 => {
                    if output.write_all(&buf[..n]).is_err() || output.flush().is_err() {
                        return;
                    }
                }
                // EIO: no process has the slave open any more.
                _ => return,
            }
        }
        if input_ready {
            let fd = input.map(|i| i.as_raw_fd()).unwrap_or(-1);
            // SAFETY: read into our buffer from a valid fd.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 || to.write_all(&buf[..n as usize]).is_err() {
                input = None;
            }
        }
        if done_ready {
            finished = true;
            input = None;
        }
    }
}

/// A container with `-t`: its process has a terminal, and `TERM` (docker sets `xterm`) unless
/// the container sets its own.
pub fn terminal_spec(spec: &mut oci_spec::runtime::Spec) {
    if let Some(p) = spec.process_mut() {
        p.set_terminal(Some(true));
        let mut env = p.env().clone().unwrap_or_default();
        if !env.iter().any(|e| e.starts_with("TERM=")) {
            env.push("TERM=xterm".into());
        }
        p.set_env(Some(env));
    }
}

/// The attached CLI's half of `run -it` / `start -ai`: gets the container's pty master from its
/// shim, puts our terminal in raw mode (with `-i`), and copies our keys and window size to the
/// container until `until` (the shim's report pipe) becomes readable — the container exited.
/// The output needs no copying: the shim writes it to our stdout, which it inherited. Returns
/// the raw-mode guard, so the terminal is restored only after the exit has been collected.
pub fn attach_console(
    bundle: &std::path::Path,
    interactive: bool,
    until: BorrowedFd<'_>,
) -> std::io::Result<Option<RawMode>> {
    let master = connect(bundle)?;
    let mut to = std::fs::File::from(master);
    let master_fd = to.as_raw_fd();
    if let Some(s) = size_of(0) {
        resize(master_fd, s);
    }
    let raw = if interactive && is_terminal(0) {
        Some(RawMode::enter(0)?)
    } else {
        None
    };
    watch_window_size();
    let mut buf = vec![0u8; 32 * 1024];
    let mut input = interactive;
    loop {
        if window_changed() {
            if let Some(s) = size_of(0) {
                resize(master_fd, s);
            }
        }
        // SAFETY: fd 0 is open for the life of the process.
        let stdin = unsafe { BorrowedFd::borrow_raw(0) };
        let mut fds = vec![PollFd::new(until, PollFlags::POLLIN)];
        if input {
            fds.push(PollFd::new(stdin, PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return Ok(raw),
        }
        let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
        if ready(&fds[0]) {
            return Ok(raw);
        }
        if input && ready(&fds[1]) {
            // SAFETY: read into our buffer from fd 0.
            let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 || to.write_all(&buf[..n as usize]).is_err() {
                // End of our input: like docker, the container's terminal gets end-of-file.
                if n == 0 {
                    let _ = to.write_all(&[4]);
                }
                input = false;
            }
        }
    }
}

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
    #[cfg(target_os = "linux")]
    {
        let d = std::fs::File::open(dir)?;
        f(&format!("/proc/self/fd/{}/{name}", d.as_raw_fd()))
    }
    // No /proc there: the path itself (the simulator's state directory is short enough).
    #[cfg(not(target_os = "linux"))]
    f(&dir.join(name).to_string_lossy())
}

impl Console {
    /// Opens the pty in the devpts of the container whose init is `pid` (sized as the CLI's
    /// terminal, when it said) and listens in `bundle`. Returns the console and the slave for
    /// the container.
    pub fn open(bundle: &Path, pid: i32) -> std::io::Result<(Console, OwnedFd)> {
        let size = std::env::var(SIZE_ENV).ok().and_then(|s| parse_size(&s));
        let (master, slave) = open_pty_in(pid, size).or_else(|_| open_pty(size))?;
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

/// Where there is no Linux there are no container devpts instances either (only the simulator
/// runs): a pty of this host's.
#[cfg(not(target_os = "linux"))]
pub fn open_pty_in(_pid: i32, size: Option<Size>) -> std::io::Result<(OwnedFd, OwnedFd)> {
    open_pty(size)
}

/// `MSG_CMSG_CLOEXEC` where the kernel has it; elsewhere the received fd is made close-on-exec
/// right after (ctrace's CLI does not fork meanwhile).
#[cfg(target_os = "linux")]
const RECV_CLOEXEC: MsgFlags = MsgFlags::MSG_CMSG_CLOEXEC;
#[cfg(not(target_os = "linux"))]
const RECV_CLOEXEC: MsgFlags = MsgFlags::empty();

/// The CLI's end: connects to the shim of the container in `bundle` and receives the master.
pub fn connect(bundle: &Path) -> std::io::Result<OwnedFd> {
    let conn = in_dir(bundle, "tty.sock", |p| UnixStream::connect(p))?;
    let mut byte = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(conn.as_raw_fd(), &mut iov, Some(&mut space), RECV_CLOEXEC)?;
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(&fd) = fds.first() {
                // SAFETY: the kernel just installed this fd for us.
                let fd = unsafe { OwnedFd::from_raw_fd(fd) };
                #[cfg(not(target_os = "linux"))]
                nix::fcntl::fcntl(
                    &fd,
                    nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
                )?;
                return Ok(fd);
            }
        }
    }
    Err(std::io::Error::other("the shim sent no terminal"))
}
