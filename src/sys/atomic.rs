//! Crash-safe file replacement: write a temp file beside the target (or in a given directory on
//! the same filesystem), fsync it, rename it over the target, fsync the directory. Readers see the
//! old file or the new one, never a torn one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde::Serialize;

static DURABLE: AtomicBool = AtomicBool::new(true);

/// Whether this process's writes survive a crash (fsync of the file and of its directory): yes,
/// unless [`set_durable`] said otherwise. Readers see the old file or the new one either way.
pub fn durable() -> bool {
    DURABLE.load(Ordering::Relaxed)
}

/// A simulated session's files are a teaching aid: losing the last ones in a power cut costs
/// nothing, and the fsyncs would be most of what a simulated start waits for.
pub fn set_durable(on: bool) {
    DURABLE.store(on, Ordering::Relaxed);
}

/// Atomically replaces `path` with `bytes`, the temp file beside it.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    write_via(dir, path, bytes)
}

/// Atomically replaces `path` with `bytes`, the temp file in `tmp_dir` (which must be on the same
/// filesystem as `path`).
pub fn write_via(tmp_dir: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(tmp_dir, path, bytes, durable())
}

/// [`write_json`], fsynced only when `durable` (and this process's writes are, [`durable`]):
/// a file whose loss in a power cut costs nothing — an `--rm` container's, deleted when it
/// exits — is still never torn for a reader, but does not wait for the disk.
pub fn write_json_with<T: Serialize>(path: &Path, value: &T, durable: bool) -> io::Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    write_with(dir, path, &bytes, durable && self::durable())
}

fn write_with(tmp_dir: &Path, path: &Path, bytes: &[u8], durable: bool) -> io::Result<()> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = tmp_dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)?;
        f.write_all(bytes)?;
        if durable {
            f.sync_data()?;
        }
        fs::rename(&tmp, path)?;
        if durable {
            sync_dir(path.parent().unwrap_or(Path::new(".")))?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// fsyncs a directory so a rename into it survives a crash.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    if !durable() {
        return Ok(());
    }
    File::open(dir)?.sync_all()
}

/// Atomically replaces `path` with `value` as pretty JSON.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    write(path, &bytes)
}

/// Reads JSON from `path`.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> io::Result<T> {
    let bytes = fs::read(path)?;
    serde_json::from_slice(&bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_file_has_the_new_bytes_and_no_temp_file_is_left() {
        let dir = std::env::temp_dir().join(format!("ctrace-atomic-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("state.json");
        write(&p, b"old").unwrap();
        write_json(&p, &serde_json::json!({"a": 1})).unwrap();
        let v: serde_json::Value = read_json(&p).unwrap();
        assert_eq!(v["a"], 1);
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }
}
