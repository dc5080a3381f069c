use std::io;
use std::os::fd::AsFd;

use super::{io, LinuxHost};
use crate::host::ns::{CloneFlags, Namespaces, NsHandle};

impl Namespaces for LinuxHost {
    fn unshare(&self, flags: CloneFlags) -> io::Result<()> {
        nix::sched::unshare(flags).map_err(io)
    }

    fn open_ns(&self, path: &std::path::Path) -> io::Result<NsHandle> {
        use std::os::unix::fs::MetadataExt;
        let file = std::fs::File::open(path)?;
        let inode = file.metadata()?.ino();
        Ok(NsHandle {
            fd: Some(file.into()),
            inode,
        })
    }

    fn setns(&self, ns: &NsHandle, nstype: CloneFlags) -> io::Result<()> {
        let fd = ns
            .fd
            .as_ref()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EBADF))?;
        nix::sched::setns(fd.as_fd(), nstype).map_err(io)
    }

    fn sethostname(&self, name: &str) -> io::Result<()> {
        nix::unistd::sethostname(name).map_err(io)
    }

    fn setdomainname(&self, name: &str) -> io::Result<()> {
        let c =
            std::ffi::CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: a valid NUL-terminated pointer and its length.
        let rc = unsafe { libc::setdomainname(c.as_ptr(), name.len()) };
        nix::errno::Errno::result(rc).map(drop).map_err(io)
    }

    fn ns_inode(&self, path: &std::path::Path) -> io::Result<u64> {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).map(|m| m.ino())
    }

    unsafe fn clone_process(
        &self,
        flags: CloneFlags,
        child: &mut dyn FnMut() -> isize,
    ) -> io::Result<i32> {
        let mut stack = vec![0u8; 1 << 20];
        // SAFETY: the caller upholds clone(2)'s rules (see the trait).
        let pid =
            unsafe { nix::sched::clone(Box::new(child), &mut stack, flags, Some(libc::SIGCHLD)) }
                .map_err(io)?;
        Ok(pid.as_raw())
    }
}
