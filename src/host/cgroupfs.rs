//! The kernel's control files: cgroupfs (`/sys/fs/cgroup/...`: make a group, write a limit,
//! move a pid, freeze, read `memory.events`) and `/proc/sys` (sysctls). Plain files to the code,
//! but writing them changes the kernel, so they go through the seam.

use std::io;
use std::path::Path;

/// The control-file side of the host.
pub trait KernelFs {
    /// `mkdir` of a control group (or any control directory), parents included.
    fn kfs_mkdir(&self, path: &Path) -> io::Result<()>;
    /// Writes `value` to a control file (one `write(2)`, as the kernel wants).
    fn kfs_write(&self, path: &Path, value: &str) -> io::Result<()>;
    /// Reads a control file.
    fn kfs_read(&self, path: &Path) -> io::Result<String>;
    /// `rmdir` of a control group.
    fn kfs_rmdir(&self, path: &Path) -> io::Result<()>;
}
