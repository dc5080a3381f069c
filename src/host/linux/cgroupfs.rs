use std::io::{self, Write};
use std::path::Path;

use super::LinuxHost;
use crate::host::cgroupfs::KernelFs;

impl KernelFs for LinuxHost {
    fn kfs_mkdir(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }

    fn kfs_write(&self, path: &Path, value: &str) -> io::Result<()> {
        // One write(2) of the whole value: a control file takes each write as one command.
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)?
            .write_all(value.as_bytes())
    }

    fn kfs_read(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn kfs_rmdir(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir(path)
    }
}
