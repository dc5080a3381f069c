//! `busybox:latest` built from the host's static busybox, so a fresh install can run
//! containers with no registry and no network (a classroom, CI).
//!
//! For: laying out a rootfs like the official busybox image (`/bin/busybox`, every applet
//! hard-linked into `/bin`, a minimal `/etc`) as a tarball and importing it through the very
//! same code path as `ImageStore::import_rootfs_tar`, so its digests, diff id and layout are
//! produced by the real importer.
//!
//! Not for: fetching busybox (install Debian's busybox-static) or building other images.
//!
//! The tarball is reproducible (sorted applets, every mtime and the config's `created` set to
//! the binary's mtime), so bootstrapping twice from the same binary gives the same image id.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use tar::{EntryType, Header};

use super::layout::TempDir;
use super::{import, Image, ImageError, ImageStore, RootfsConfig};

/// The reference the bootstrap image gets.
pub const BUSYBOX_REFERENCE: &str = "docker.io/library/busybox:latest";

/// Where Debian's busybox-static (and merged-/usr systems) put the binary.
const CANDIDATES: [&str; 2] = ["/bin/busybox", "/usr/bin/busybox"];

const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// As in the official busybox image.
const PASSWD: &str = "\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
";

const GROUP: &str = "\
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
utmp:x:43:
plugdev:x:46:
staff:x:50:
lock:x:54:
netdev:x:82:
users:x:100:
nobody:x:65534:
";

/// Directories of the image, parents first, with their modes.
const DIRS: [(&str, u32); 14] = [
    ("bin", 0o755),
    ("dev", 0o755),
    ("etc", 0o755),
    ("home", 0o755),
    ("proc", 0o755),
    ("root", 0o700),
    ("sys", 0o755),
    ("tmp", 0o1777),
    ("usr", 0o755),
    ("usr/sbin", 0o755),
    ("var", 0o755),
    ("var/spool", 0o755),
    ("var/spool/mail", 0o755),
    ("var/www", 0o755),
];

/// [`ImageStore::bootstrap_busybox`].
pub(crate) fn bootstrap(store: &ImageStore) -> Result<Image, ImageError> {
    let busybox = find_static_busybox()?;
    let mtime = fs::metadata(&busybox)
        .map_err(|e| ImageError::io("stat", &busybox, e))?
        .mtime();
    let applets = applets(&busybox)?;
    let work = TempDir::new(store.tmp_dir())?;
    let tar_path = work.path().join("busybox-rootfs.tar");
    write_rootfs_tar(&busybox, &applets, mtime.max(0) as u64, &tar_path)?;
    tracing::debug!(
        ?busybox,
        applets = applets.len(),
        "busybox rootfs tarball built"
    );
    let cfg = RootfsConfig {
        cmd: Some(vec!["sh".into()]),
        env: vec![PATH_ENV.into()],
        ..Default::default()
    };
    let created = crate::sys::time::rfc3339_secs(mtime);
    let created_by = format!(
        "ctrace bootstrap from {} (busybox-static)",
        busybox.display()
    );
    import::import_rootfs(
        store,
        &tar_path,
        BUSYBOX_REFERENCE,
        &cfg,
        &created,
        &created_by,
    )
}

/// The first static busybox among [`CANDIDATES`].
pub(crate) fn find_static_busybox() -> Result<PathBuf, ImageError> {
    let mut dynamic = None;
    for c in CANDIDATES {
        let path = Path::new(c);
        match elf_is_static(path) {
            Ok(true) => return Ok(path.to_path_buf()),
            Ok(false) => {
                tracing::debug!(?path, "busybox is dynamically linked");
                dynamic.get_or_insert_with(|| path.to_path_buf());
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(error) => {
                tracing::debug!(?path, %error, "not a usable busybox");
                dynamic.get_or_insert_with(|| path.to_path_buf());
            }
        }
    }
    match dynamic {
        Some(path) => Err(ImageError::BusyboxNotStatic { path }),
        None => Err(ImageError::NoBusybox),
    }
}

/// Whether the ELF file at `path` has no `PT_INTERP` program header, i.e. needs no dynamic
/// loader. Static-pie binaries count as static. Non-ELF files are an `InvalidData` error.
pub(crate) fn elf_is_static(path: &Path) -> io::Result<bool> {
    const PT_INTERP: u32 = 3;
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    let mut f = File::open(path)?;
    let mut ident = [0u8; 64];
    f.read_exact(&mut ident)?;
    if &ident[..4] != b"\x7fELF" {
        return Err(invalid("not an ELF file"));
    }
    let is64 = match ident[4] {
        1 => false,
        2 => true,
        _ => return Err(invalid("unknown ELF class")),
    };
    let le = match ident[5] {
        1 => true,
        2 => false,
        _ => return Err(invalid("unknown ELF byte order")),
    };
    let u16_at = |b: &[u8], o: usize| {
        let v = [b[o], b[o + 1]];
        if le {
            u16::from_le_bytes(v)
        } else {
            u16::from_be_bytes(v)
        }
    };
    let u32_at = |b: &[u8], o: usize| {
        let v = [b[o], b[o + 1], b[o + 2], b[o + 3]];
        if le {
            u32::from_le_bytes(v)
        } else {
            u32::from_be_bytes(v)
        }
    };
    let u64_at = |b: &[u8], o: usize| {
        let mut v = [0u8; 8];
        v.copy_from_slice(&b[o..o + 8]);
        if le {
            u64::from_le_bytes(v)
        } else {
            u64::from_be_bytes(v)
        }
    };
    let (phoff, phentsize, phnum) = if is64 {
        (
            u64_at(&ident, 0x20),
            u16_at(&ident, 0x36),
            u16_at(&ident, 0x38),
        )
    } else {
        (
            u64::from(u32_at(&ident, 0x1c)),
            u16_at(&ident, 0x2a),
            u16_at(&ident, 0x2c),
        )
    };
    if phentsize < 4 || phnum > 4096 {
        return Err(invalid("implausible ELF program header table"));
    }
    let mut table = vec![0u8; usize::from(phentsize) * usize::from(phnum)];
    f.seek(SeekFrom::Start(phoff))?;
    f.read_exact(&mut table)?;
    Ok(table
        .chunks(usize::from(phentsize))
        .all(|ph| u32_at(ph, 0) != PT_INTERP))
}

/// `busybox --list`: the applet names this binary provides, sorted.
fn applets(busybox: &Path) -> Result<Vec<String>, ImageError> {
    let out = Command::new(busybox)
        .arg("--list")
        .output()
        .map_err(|e| ImageError::io("run --list of", busybox, e))?;
    if !out.status.success() {
        return Err(ImageError::io(
            "run --list of",
            busybox,
            io::Error::other(format!("exited with {}", out.status)),
        ));
    }
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|n| !n.is_empty() && *n != "busybox" && !n.contains('/') && !n.starts_with('.'))
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

fn header(kind: EntryType, mode: u32, size: u64, mtime: u64) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(mtime);
    h.set_size(size);
    h
}

fn write_rootfs_tar(
    busybox: &Path,
    applets: &[String],
    mtime: u64,
    out: &Path,
) -> Result<(), ImageError> {
    let io_err = |e: io::Error| ImageError::io("write", out, e);
    let file = File::create(out).map_err(|e| ImageError::io("create", out, e))?;
    let mut b = tar::Builder::new(BufWriter::new(file));
    for (dir, mode) in DIRS {
        let mut h = header(EntryType::Directory, mode, 0, mtime);
        b.append_data(&mut h, dir, io::empty()).map_err(io_err)?;
    }
    let bin = File::open(busybox).map_err(|e| ImageError::io("open", busybox, e))?;
    let len = bin
        .metadata()
        .map_err(|e| ImageError::io("stat", busybox, e))?
        .len();
    let mut h = header(EntryType::Regular, 0o755, len, mtime);
    b.append_data(&mut h, "bin/busybox", bin).map_err(io_err)?;
    for applet in applets {
        let mut h = header(EntryType::Link, 0o755, 0, mtime);
        b.append_link(&mut h, format!("bin/{applet}"), "bin/busybox")
            .map_err(io_err)?;
    }
    for (path, data, mode) in [("etc/passwd", PASSWD, 0o644), ("etc/group", GROUP, 0o644)] {
        let mut h = header(EntryType::Regular, mode, data.len() as u64, mtime);
        b.append_data(&mut h, path, data.as_bytes())
            .map_err(io_err)?;
    }
    let mut w = b.into_inner().map_err(io_err)?;
    w.flush().map_err(io_err)?;
    w.get_ref().sync_all().map_err(io_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elf_check_tells_static_from_dynamic() {
        // /bin/true is dynamically linked on every Debian; the test binary itself usually is too.
        if Path::new("/bin/true").exists() {
            assert!(!elf_is_static(Path::new("/bin/true")).unwrap());
        }
        let dir = crate::image::testutil::tempdir();
        let script = dir.path().join("script");
        fs::write(&script, "#!/bin/sh\n").unwrap();
        assert_eq!(
            elf_is_static(&script).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
        let junk = dir.path().join("junk");
        fs::write(&junk, [0u8; 128]).unwrap();
        assert_eq!(
            elf_is_static(&junk).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        if let Ok(bb) = find_static_busybox() {
            assert!(elf_is_static(&bb).unwrap());
        }
    }
}
