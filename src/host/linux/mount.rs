use std::io;
use std::path::{Path, PathBuf};

use super::{io, LinuxHost};
use crate::host::mount::{MntFlags, Mounts, MsFlags, SFlag};

impl Mounts for LinuxHost {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> io::Result<()> {
        nix::mount::mount(source, target, fstype, flags, data).map_err(io)
    }

    fn umount(&self, target: &Path, flags: MntFlags) -> io::Result<()> {
        nix::mount::umount2(target, flags).map_err(io)
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> io::Result<()> {
        nix::unistd::pivot_root(new_root, put_old).map_err(io)
    }

    fn mknod(&self, path: &Path, kind: SFlag, major: u64, minor: u64) -> io::Result<()> {
        let dev = nix::sys::stat::makedev(major, minor);
        nix::sys::stat::mknod(path, kind, nix::sys::stat::Mode::empty(), dev).map_err(io)
    }

    fn set_owner_mode(&self, path: &Path, uid: u32, gid: u32, mode: u32) -> io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        nix::unistd::chown(path, Some(uid.into()), Some(gid.into())).map_err(io)
    }

    fn mountinfo(&self) -> io::Result<String> {
        std::fs::read_to_string("/proc/self/mountinfo")
    }

    fn in_root(&self, path: &Path) -> PathBuf {
        path.to_path_buf()
    }
}
