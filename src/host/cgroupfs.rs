//! The kernel's control files: cgroupfs (`/sys/fs/cgroup/...`: make a group, write a limit,
//! move a pid, freeze, read `memory.events`) and `/proc/sys` (sysctls). Plain files to the code,
//! but writing them changes the kernel, so they go through the seam.

use std::io;
use std::path::{Path, PathBuf};

/// The control-file side of the host.
pub trait KernelFs {
    /// Writes `value` to a control file (one `write(2)`, as the kernel wants).
    fn kfs_write(&self, path: &Path, value: &str) -> io::Result<()>;
    /// Reads a control file.
    fn kfs_read(&self, path: &Path) -> io::Result<String>;
    /// `rmdir` of a control group.
    fn kfs_rmdir(&self, path: &Path) -> io::Result<()>;

    // The cgroup tree, one level at a time (the runtime's cgroup walk).

    /// `mkdir` of one control group whose parent exists: `AlreadyExists` when it is there,
    /// `NotFound` when the parent is gone (a concurrent removal).
    fn kfs_create_dir(&self, path: &Path) -> io::Result<()>;
    /// The child control groups (directories) of `path`; `NotFound` when it does not exist.
    fn kfs_subdirs(&self, path: &Path) -> io::Result<Vec<PathBuf>>;
    /// True when the control file or group exists (a kernel feature, a live cgroup).
    fn kfs_exists(&self, path: &Path) -> bool;
}
