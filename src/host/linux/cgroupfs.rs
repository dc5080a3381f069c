use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::LinuxHost;
use crate::host::cgroupfs::KernelFs;

impl KernelFs for LinuxHost {
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

    fn kfs_create_dir(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir(path)
    }

    fn kfs_subdirs(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(path)?.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                out.push(entry.path());
            }
        }
        Ok(out)
    }

    fn kfs_exists(&self, path: &Path) -> bool {
        path.exists()
    }
}
