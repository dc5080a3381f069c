//! Layer extraction: one layer tarball → one directory that overlayfs can use as a lowerdir.
//!
//! For: unpacking a verified layer blob (plain tar or gzip) into a fresh, private staging
//! directory, hashing the uncompressed stream on the way (the diff id), converting OCI
//! whiteouts into overlayfs's format, and refusing every entry that could write outside the
//! layer or smuggle a device node onto the host. Also the hash-only pass used when a layer is
//! already extracted.
//!
//! A layer may expand to a limit ([`Cap`], chosen by the importer from the settings file): the
//! uncompressed stream and the bytes written are both counted, and extraction stops with
//! [`ImageError::TooLarge`] the moment either passes it (a gzip bomb writes no more than that).
//!
//! Not for: deciding where the directory ends up (the importer renames it into `<root>/layers`
//! after every check passed) or verifying the compressed blob (done before we get here).
//!
//! Why not `tar::Archive::unpack`: it follows the crate's own notion of safety, keeps OCI
//! whiteouts as plain files and cannot refuse device nodes. Here every path is split into
//! components, `..` and absolute paths are refused outright, and each parent component is
//! `lstat`ed inside the layer so a symlink planted by an earlier entry can never be traversed
//! (the staging directory is private to this process, so nothing else changes it between the
//! check and the write). Files are created with `O_CREAT|O_EXCL|O_NOFOLLOW`.
//!
//! Whiteouts, because each layer is its own lowerdir: `.wh.<name>` becomes a 0:0 character
//! device `<name>`, and `.wh..wh..opq` sets `trusted.overlay.opaque=y` on its directory. A
//! layer's own `trusted.overlay.*` xattrs are dropped: they steer overlayfs (redirects,
//! metacopy) and must only come from the conversion above.

use std::ffi::{CString, OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use flate2::read::MultiGzDecoder;
use nix::fcntl::{AtFlags, AT_FDCWD};
use nix::sys::stat::{self, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid};
use tar::{EntryType, Header};

use super::layout::HashingReader;
use super::ImageError;

const WHITEOUT_PREFIX: &str = ".wh.";
const WHITEOUT_META_PREFIX: &str = ".wh..wh.";
const WHITEOUT_OPAQUE: &str = ".wh..wh..opq";
const OVERLAY_OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// What extraction (or the hash-only pass) learned about a layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LayerStats {
    /// Hex sha256 of the uncompressed tar stream.
    pub diff_id: String,
    /// Bytes of regular-file content written (0 for the hash-only pass).
    pub size: u64,
}

/// How far one layer may expand, and the words that say where the limit comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Cap {
    pub bytes: u64,
    /// `the limit for one layer (max-layer-size in …)`.
    pub what: String,
}

impl Cap {
    fn error(&self, layer: &str) -> ImageError {
        ImageError::TooLarge {
            layer: layer.to_string(),
            limit: format!(
                "{} ({} bytes)",
                crate::sys::size::human_size(self.bytes, 4),
                self.bytes
            ),
            what: self.what.clone(),
        }
    }
}

/// A layer's uncompressed stream that ends in an error past `left` bytes, noting that it did.
struct Capped<R> {
    inner: R,
    left: u64,
    over: std::rc::Rc<std::cell::Cell<bool>>,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            let mut one = [0u8; 1];
            if self.inner.read(&mut one)? == 0 {
                return Ok(0);
            }
            self.over.set(true);
            return Err(io::Error::other("the layer expands past its limit"));
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// How a layer blob is compressed, from its magic bytes (media types lie too often).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// The OCI media type of a layer compressed this way.
    pub(crate) fn media_type(self) -> String {
        use oci_spec::image::MediaType;
        match self {
            Compression::Gzip => MediaType::ImageLayerGzip.to_string(),
            Compression::Zstd => MediaType::ImageLayerZstd.to_string(),
            Compression::None => MediaType::ImageLayer.to_string(),
        }
    }
}

/// A zstd stream of one or more frames (a single `StreamingDecoder` stops after the first).
struct ZstdFrames<R: BufRead> {
    decoder: Option<ruzstd::decoding::StreamingDecoder<R, ruzstd::decoding::FrameDecoder>>,
}

impl<R: BufRead> ZstdFrames<R> {
    fn new(source: R) -> io::Result<Self> {
        let d = ruzstd::decoding::StreamingDecoder::new(source)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        Ok(ZstdFrames { decoder: Some(d) })
    }
}

impl<R: BufRead> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(d) = self.decoder.as_mut() else {
                return Ok(0);
            };
            let n = d.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            // This frame is done: another one may follow.
            let d = self.decoder.take().expect("checked above");
            let mut source = d.into_inner();
            if source.fill_buf()?.is_empty() {
                return Ok(0);
            }
            self.decoder = Some(
                ruzstd::decoding::StreamingDecoder::new(source)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?,
            );
        }
    }
}

/// Open a layer blob and return a reader of its uncompressed tar stream.
fn open_uncompressed(blob: &Path, layer: &str) -> Result<(Box<dyn Read>, Compression), ImageError> {
    let file = File::open(blob).map_err(|e| ImageError::io("open layer blob", blob, e))?;
    let mut reader = BufReader::with_capacity(256 << 10, file);
    let magic = reader
        .fill_buf()
        .map_err(|e| ImageError::io("read layer blob", blob, e))?;
    let unsupported = |kind: &str| {
        ImageError::Unsupported {
        what: format!("layer {layer}"),
        reason: format!("{kind}-compressed layers are not supported: re-export the image with gzip or uncompressed layers"),
    }
    };
    match magic {
        [0x1f, 0x8b, ..] => Ok((Box::new(MultiGzDecoder::new(reader)), Compression::Gzip)),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => {
            let z =
                ZstdFrames::new(reader).map_err(|e| ImageError::io("read zstd layer", blob, e))?;
            Ok((Box::new(z), Compression::Zstd))
        }
        [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => Err(unsupported("xz")),
        [b'B', b'Z', b'h', ..] => Err(unsupported("bzip2")),
        _ => Ok((Box::new(reader), Compression::None)),
    }
}

/// The compression of a layer blob, by magic bytes.
pub(crate) fn detect_compression(blob: &Path, layer: &str) -> Result<Compression, ImageError> {
    open_uncompressed(blob, layer).map(|(_, c)| c)
}

/// Hash a layer's uncompressed stream without extracting it (the layer is already on disk).
pub(crate) fn hash_layer(blob: &Path, layer: &str) -> Result<LayerStats, ImageError> {
    let (reader, _) = open_uncompressed(blob, layer)?;
    let mut hashing = HashingReader::new(reader);
    io::copy(&mut hashing, &mut io::sink())
        .map_err(|e| ImageError::io("decompress layer blob", blob, e))?;
    let (diff_id, _) = hashing.finish();
    Ok(LayerStats { diff_id, size: 0 })
}

/// Extract the layer blob at `blob` into `dest`, which must not exist yet (it is created).
/// `layer` names the layer in errors (its blob digest). On error `dest` may hold a partial tree:
/// it lives in the caller's staging directory, which is removed as a whole.
pub(crate) fn extract_layer(
    blob: &Path,
    dest: &Path,
    layer: &str,
    cap: &Cap,
) -> Result<LayerStats, ImageError> {
    let (reader, _) = open_uncompressed(blob, layer)?;
    let over = std::rc::Rc::new(std::cell::Cell::new(false));
    let reader = Capped {
        inner: reader,
        left: cap.bytes,
        over: over.clone(),
    };
    extract_capped(blob, dest, layer, reader, cap.bytes).map_err(|e| {
        if over.get() || matches!(e, ImageError::TooLarge { .. }) {
            cap.error(layer)
        } else {
            e
        }
    })
}

fn extract_capped(
    blob: &Path,
    dest: &Path,
    layer: &str,
    reader: impl Read,
    cap: u64,
) -> Result<LayerStats, ImageError> {
    fs::DirBuilder::new()
        .mode(0o755)
        .create(dest)
        .map_err(|e| ImageError::io("create directory", dest, e))?;
    let mut ex = Extractor {
        root: dest.to_path_buf(),
        layer: layer.to_string(),
        dir_times: Vec::new(),
        size: 0,
        cap,
        is_root: nix::unistd::geteuid().is_root(),
    };
    let mut archive = tar::Archive::new(HashingReader::new(reader));
    {
        let entries = archive
            .entries()
            .map_err(|e| ImageError::io("read layer tar", blob, e))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| ex.tar_error(blob, e))?;
            ex.entry(&mut entry).map_err(|e| match e {
                EntryError::Image(e) => e,
                EntryError::Io(op, path, source) => ImageError::io(op, path, source),
            })?;
        }
    }
    // The diff id covers the whole uncompressed stream, including the zero blocks and padding
    // after the end-of-archive marker that the tar reader stops at.
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(|e| ImageError::io("read layer tar", blob, e))?;
    let (diff_id, _) = rest.finish();
    ex.finish_dirs()?;
    tracing::debug!(layer, diff_id = %diff_id, size = ex.size, ?dest, "layer extracted");
    Ok(LayerStats {
        diff_id,
        size: ex.size,
    })
}

enum EntryError {
    Image(ImageError),
    Io(&'static str, PathBuf, io::Error),
}

impl From<ImageError> for EntryError {
    fn from(e: ImageError) -> Self {
        EntryError::Image(e)
    }
}

trait IoCtx<T> {
    fn ctx(self, op: &'static str, path: &Path) -> Result<T, EntryError>;
}

impl<T> IoCtx<T> for io::Result<T> {
    fn ctx(self, op: &'static str, path: &Path) -> Result<T, EntryError> {
        self.map_err(|e| EntryError::Io(op, path.to_path_buf(), e))
    }
}

impl<T> IoCtx<T> for nix::Result<T> {
    fn ctx(self, op: &'static str, path: &Path) -> Result<T, EntryError> {
        self.map_err(|e| EntryError::Io(op, path.to_path_buf(), e.into()))
    }
}

/// Metadata carried by an entry's header and PAX records.
struct Meta {
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: TimeSpec,
    xattrs: Vec<(String, Vec<u8>)>,
}

struct Extractor {
    root: PathBuf,
    layer: String,
    /// Directory mtimes are applied last: creating entries inside a directory bumps its mtime.
    dir_times: Vec<(PathBuf, TimeSpec)>,
    size: u64,
    /// Bytes of file content this layer may write (sparse files expand without stream bytes).
    cap: u64,
    /// Ownership is only restored as root; elsewhere (the simulator's dev loop) files stay ours.
    is_root: bool,
}

impl Extractor {
    fn tar_error(&self, blob: &Path, e: io::Error) -> ImageError {
        ImageError::bad_archive(
            blob,
            format!("layer {} is not a valid tar stream: {e}", self.layer),
        )
    }

    fn refuse(&self, entry: &str, reason: impl Into<String>) -> EntryError {
        EntryError::Image(ImageError::UnsafeLayerEntry {
            layer: self.layer.clone(),
            entry: entry.to_string(),
            reason: reason.into(),
        })
    }

    /// Split an archive path into its components, refusing `..` and absolute paths.
    fn components(&self, raw: &[u8], entry: &str, what: &str) -> Result<Vec<OsString>, EntryError> {
        let mut out = Vec::new();
        for c in Path::new(OsStr::from_bytes(raw)).components() {
            match c {
                Component::Normal(n) => out.push(n.to_os_string()),
                Component::CurDir => {}
                Component::ParentDir => {
                    return Err(self.refuse(entry, format!("{what} has a .. component")))
                }
                Component::RootDir | Component::Prefix(_) => {
                    return Err(self.refuse(entry, format!("{what} is an absolute path")))
                }
            }
        }
        Ok(out)
    }

    /// Walk `comps` below the layer root with lstat, creating missing directories when `create`,
    /// and refuse if any of them is a symlink or not a directory. Returns the resulting path.
    fn walk_dirs(
        &self,
        comps: &[OsString],
        entry: &str,
        create: bool,
    ) -> Result<PathBuf, EntryError> {
        let mut path = self.root.clone();
        let mut rel = PathBuf::new();
        for c in comps {
            path.push(c);
            rel.push(c);
            match fs::symlink_metadata(&path) {
                Ok(md) if md.file_type().is_dir() => {}
                Ok(md) if md.file_type().is_symlink() => {
                    return Err(self.refuse(
                        entry,
                        format!(
                            "goes through {}, which is a symlink in this layer",
                            rel.display()
                        ),
                    ))
                }
                Ok(_) => {
                    return Err(self.refuse(
                        entry,
                        format!("goes through {}, which is not a directory", rel.display()),
                    ))
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                    fs::DirBuilder::new()
                        .mode(0o755)
                        .create(&path)
                        .ctx("create directory", &path)?;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(self.refuse(
                        entry,
                        format!("needs {}, which is not in this layer", rel.display()),
                    ))
                }
                Err(e) => return Err(EntryError::Io("lstat", path, e)),
            }
        }
        Ok(path)
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), EntryError> {
        let raw_path = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&raw_path).into_owned();
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            EntryType::XGlobalHeader
                | EntryType::XHeader
                | EntryType::GNULongName
                | EntryType::GNULongLink
        ) {
            return Ok(());
        }
        let comps = self.components(&raw_path, &name, "path")?;
        let meta = self.meta(entry, &name)?;

        let Some((file_name, parents)) = comps.split_last() else {
            // "./" itself: the layer root's own metadata.
            if kind == EntryType::Directory {
                let root = self.root.clone();
                self.apply_meta(&root, &meta, false)?;
                self.dir_times.push((root, meta.mtime));
                return Ok(());
            }
            return Err(self.refuse(&name, "has an empty path and is not a directory"));
        };
        let parent = self.walk_dirs(parents, &name, true)?;
        let file_name_str = file_name.to_string_lossy();

        // OCI whiteouts → overlayfs whiteouts.
        if file_name_str == WHITEOUT_OPAQUE {
            set_xattr(&parent, OVERLAY_OPAQUE_XATTR, b"y").ctx("set opaque xattr on", &parent)?;
            tracing::debug!(layer = %self.layer, dir = ?parent, "opaque whiteout");
            return Ok(());
        }
        if file_name_str.starts_with(WHITEOUT_META_PREFIX) {
            // Other aufs metadata (.wh..wh.plnk, .wh..wh.aufs) means nothing to overlayfs.
            return Ok(());
        }
        if let Some(hidden) = file_name
            .as_bytes()
            .strip_prefix(WHITEOUT_PREFIX.as_bytes())
        {
            if hidden.is_empty() || hidden == b"." || hidden == b".." || hidden.contains(&b'/') {
                return Err(self.refuse(&name, "is a whiteout for an invalid name"));
            }
            let target = parent.join(OsStr::from_bytes(hidden));
            remove_existing(&target, false)?;
            stat::mknod(&target, SFlag::S_IFCHR, Mode::empty(), 0)
                .ctx("create whiteout", &target)?;
            self.chown(&target, 0, 0)?;
            return Ok(());
        }

        let path = parent.join(file_name);
        match kind {
            EntryType::Directory => {
                remove_existing(&path, true)?;
                if !path.is_dir() {
                    fs::DirBuilder::new()
                        .mode(0o700)
                        .create(&path)
                        .ctx("create directory", &path)?;
                }
                self.apply_meta(&path, &meta, false)?;
                self.dir_times.push((path, meta.mtime));
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                remove_existing(&path, false)?;
                let mut f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                    .open(&path)
                    .ctx("create", &path)?;
                let left = self.cap.saturating_sub(self.size);
                let n = io::copy(&mut entry.take(left.saturating_add(1)), &mut f)
                    .ctx("write", &path)?;
                self.size += n;
                if n > left {
                    return Err(EntryError::Image(ImageError::TooLarge {
                        layer: self.layer.clone(),
                        limit: String::new(),
                        what: String::new(),
                    }));
                }
                drop(f);
                self.apply_meta(&path, &meta, false)?;
                self.set_times(&path, meta.mtime)?;
            }
            EntryType::Symlink => {
                // A symlink may point anywhere: it is resolved inside the container's root later.
                let target = entry
                    .link_name_bytes()
                    .map(|t| t.into_owned())
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| self.refuse(&name, "is a symlink without a target"))?;
                remove_existing(&path, false)?;
                std::os::unix::fs::symlink(OsStr::from_bytes(&target), &path)
                    .ctx("create symlink", &path)?;
                self.apply_meta(&path, &meta, true)?;
                self.set_times(&path, meta.mtime)?;
            }
            EntryType::Link => {
                let raw_target = entry
                    .link_name_bytes()
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                let tcomps = self.components(&raw_target, &name, "hard link target")?;
                let Some((tname, tparents)) = tcomps.split_last() else {
                    return Err(self.refuse(&name, "is a hard link to the layer root"));
                };
                let target = self.walk_dirs(tparents, &name, false)?.join(tname);
                match fs::symlink_metadata(&target) {
                    Ok(md) if md.is_dir() => {
                        return Err(self.refuse(&name, "is a hard link to a directory"))
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        return Err(self.refuse(
                            &name,
                            format!(
                                "is a hard link to {}, which is not in this layer",
                                String::from_utf8_lossy(&raw_target)
                            ),
                        ))
                    }
                    Err(e) => return Err(EntryError::Io("lstat", target, e)),
                }
                if target == path {
                    return Ok(());
                }
                remove_existing(&path, false)?;
                // std's hard_link is linkat(2) without AT_SYMLINK_FOLLOW: a link to a symlink
                // links the symlink itself, never what it points to.
                fs::hard_link(&target, &path).ctx("create hard link", &path)?;
            }
            EntryType::Char | EntryType::Block => {
                let major = entry.header().device_major().ok().flatten().unwrap_or(0);
                let minor = entry.header().device_minor().ok().flatten().unwrap_or(0);
                if kind == EntryType::Block || (major, minor) != (0, 0) {
                    let what = if kind == EntryType::Block {
                        "block"
                    } else {
                        "character"
                    };
                    return Err(self.refuse(
                        &name,
                        format!("is a {what} device ({major}:{minor}); images may not carry device nodes, the runtime creates /dev"),
                    ));
                }
                // A 0:0 char device is already an overlayfs whiteout (layers built from overlay diffs).
                remove_existing(&path, false)?;
                stat::mknod(&path, SFlag::S_IFCHR, Mode::empty(), 0)
                    .ctx("create whiteout", &path)?;
                self.apply_meta(&path, &meta, false)?;
                self.set_times(&path, meta.mtime)?;
            }
            EntryType::Fifo => {
                remove_existing(&path, false)?;
                stat::mknod(&path, SFlag::S_IFIFO, Mode::from_bits_truncate(0o600), 0)
                    .ctx("create fifo", &path)?;
                self.apply_meta(&path, &meta, false)?;
                self.set_times(&path, meta.mtime)?;
            }
            other => {
                tracing::debug!(layer = %self.layer, entry = %name, kind = ?other, "skipping tar entry of unknown type");
            }
        }
        Ok(())
    }

    fn meta<R: Read>(&self, entry: &mut tar::Entry<'_, R>, name: &str) -> Result<Meta, EntryError> {
        let h: &Header = entry.header();
        let bad = |field: &str, e: io::Error| {
            self.refuse(name, format!("has an unreadable {field}: {e}"))
        };
        let mode = h.mode().map_err(|e| bad("mode", e))? & 0o7777;
        // The tar crate already applied PAX uid/gid to the header.
        let uid = h.uid().map_err(|e| bad("uid", e))?;
        let gid = h.gid().map_err(|e| bad("gid", e))?;
        let header_mtime = h.mtime().map_err(|e| bad("mtime", e))?;
        let mut mtime = TimeSpec::new(header_mtime as i64, 0);
        let mut xattrs = Vec::new();
        if let Some(pax) = entry.pax_extensions().map_err(|e| bad("pax header", e))? {
            for ext in pax.flatten() {
                let Ok(key) = ext.key() else { continue };
                if let Some(attr) = key.strip_prefix("SCHILY.xattr.") {
                    xattrs.push((attr.to_string(), ext.value_bytes().to_vec()));
                } else if key == "mtime" {
                    if let Some(ts) = ext.value().ok().and_then(parse_pax_time) {
                        mtime = ts;
                    }
                }
            }
        }
        Ok(Meta {
            mode,
            uid,
            gid,
            mtime,
            xattrs,
        })
    }

    fn chown(&self, path: &Path, uid: u64, gid: u64) -> Result<(), EntryError> {
        if !self.is_root {
            return Ok(());
        }
        let (Ok(uid), Ok(gid)) = (u32::try_from(uid), u32::try_from(gid)) else {
            return Err(self.refuse(&path.display().to_string(), "has a uid or gid above 2^32"));
        };
        nix::unistd::fchownat(
            AT_FDCWD,
            path,
            Some(Uid::from_raw(uid)),
            Some(Gid::from_raw(gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .ctx("chown", path)
    }

    /// Owner, then mode (chown clears set-id bits), then xattrs.
    fn apply_meta(&self, path: &Path, meta: &Meta, symlink: bool) -> Result<(), EntryError> {
        self.chown(path, meta.uid, meta.gid)?;
        if !symlink {
            stat::fchmodat(
                AT_FDCWD,
                path,
                Mode::from_bits_truncate(meta.mode as libc::mode_t),
                stat::FchmodatFlags::FollowSymlink,
            )
            .ctx("chmod", path)?;
        }
        for (name, value) in &meta.xattrs {
            if name.starts_with("trusted.overlay.") {
                tracing::debug!(layer = %self.layer, ?path, xattr = %name, "dropping overlay xattr carried by the layer");
                continue;
            }
            match set_xattr(path, name, value) {
                Ok(()) => {}
                // Filesystems without xattr support, or user.* on a symlink: not worth failing
                // an import over, as docker does.
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTSUP) | Some(libc::EPERM)) => {
                    tracing::debug!(layer = %self.layer, ?path, xattr = %name, error = %e, "xattr not applied");
                }
                Err(e) => return Err(EntryError::Io("set xattr on", path.to_path_buf(), e)),
            }
        }
        Ok(())
    }

    fn set_times(&self, path: &Path, mtime: TimeSpec) -> Result<(), EntryError> {
        stat::utimensat(
            AT_FDCWD,
            path,
            &mtime,
            &mtime,
            UtimensatFlags::NoFollowSymlink,
        )
        .ctx("set times on", path)
    }

    fn finish_dirs(&mut self) -> Result<(), ImageError> {
        // Deepest (latest-created) first, so setting a child's time never bumps a parent after.
        for (path, mtime) in self.dir_times.iter().rev() {
            self.set_times(path, *mtime).map_err(|e| match e {
                EntryError::Image(e) => e,
                EntryError::Io(op, p, source) => ImageError::io(op, p, source),
            })?;
        }
        Ok(())
    }
}

/// Make room for a new entry at `path`, as docker does: whatever is there goes, except that a
/// directory stays when a directory entry arrives (its metadata is updated instead).
fn remove_existing(path: &Path, keep_dir: bool) -> Result<(), EntryError> {
    match fs::symlink_metadata(path) {
        Ok(md) if md.is_dir() => {
            if !keep_dir {
                // remove_dir_all does not follow symlinks inside the tree.
                fs::remove_dir_all(path).ctx("remove", path)?;
            }
        }
        Ok(_) => fs::remove_file(path).ctx("remove", path)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(EntryError::Io("lstat", path.to_path_buf(), e)),
    }
    Ok(())
}

/// `lsetxattr(2)`: never follows a symlink.
pub(crate) fn set_xattr(path: &Path, name: &str, value: &[u8]) -> io::Result<()> {
    let cpath = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let cname = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: both strings are NUL-terminated and outlive the call; value/len describe a valid slice.
    #[cfg(target_os = "linux")]
    let rc = unsafe {
        libc::lsetxattr(
            cpath.as_ptr(),
            cname.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    // macOS: setxattr with XATTR_NOFOLLOW is lsetxattr.
    #[cfg(target_os = "macos")]
    let rc = unsafe {
        libc::setxattr(
            cpath.as_ptr(),
            cname.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
            libc::XATTR_NOFOLLOW,
        )
    };
    #[cfg(not(any(target_os = "linux", target_os = "macos")))]
    let rc = {
        let _ = (&cpath, &cname, value);
        return Err(io::Error::from(io::ErrorKind::Unsupported));
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `lgetxattr(2)`, for tests and diagnostics.
#[cfg(test)]
pub(crate) fn get_xattr(path: &Path, name: &str) -> io::Result<Vec<u8>> {
    let cpath = CString::new(path.as_os_str().as_bytes()).unwrap();
    let cname = CString::new(name).unwrap();
    let mut buf = vec![0u8; 256];
    // SAFETY: NUL-terminated strings; buf is valid for buf.len() bytes.
    let n = unsafe {
        libc::lgetxattr(
            cpath.as_ptr(),
            cname.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    Ok(buf)
}

/// PAX times are decimal seconds with an optional fraction: `1700000000.123456789`.
fn parse_pax_time(v: &str) -> Option<TimeSpec> {
    let (secs, frac) = v.split_once('.').unwrap_or((v, ""));
    let secs: i64 = secs.parse().ok()?;
    let digits: String = frac.chars().take(9).collect();
    let nanos: i64 = if digits.is_empty() {
        0
    } else {
        format!("{digits:0<9}").parse().ok()?
    };
    if secs < 0 && nanos > 0 {
        // Negative fractional times are rare enough to round down to the second.
        return Some(TimeSpec::new(secs, 0));
    }
    Some(TimeSpec::new(secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::testutil::*;
    use std::os::unix::fs::{FileTypeExt, MetadataExt};

    const NO_CAP: Cap = Cap {
        bytes: u64::MAX,
        what: String::new(),
    };

    #[test]
    fn a_gzip_bomb_stops_at_the_cap_and_a_sparse_file_counts_what_it_writes() {
        let dir = tempdir();
        let mut t = TarBuilder::new();
        t.file("zeros", &vec![0u8; 8 << 20]);
        let blob = dir.path().join("blob");
        fs::write(&blob, gzip(&t.finish())).unwrap();
        let cap = Cap {
            bytes: 1 << 20,
            what: "the test's limit".into(),
        };
        let err = extract_layer(&blob, &dir.path().join("out"), "sha256:bomb", &cap).unwrap_err();
        assert_eq!(
            err.to_string(),
            "refusing layer sha256:bomb: it expands past 1.049MB (1048576 bytes), the test's limit; nothing was imported"
        );
        let written = fs::metadata(dir.path().join("out/zeros")).map_or(0, |m| m.len());
        assert!(written <= 1 << 20, "{written} bytes written");
        // Stream and content both under the cap: extracted.
        let ok = Cap {
            bytes: 9 << 20,
            what: String::new(),
        };
        extract_layer(&blob, &dir.path().join("ok"), "sha256:bomb", &ok).unwrap();
    }

    fn extract(tar: Vec<u8>) -> (TestDir, Result<LayerStats, ImageError>) {
        let dir = tempdir();
        let blob = dir.path().join("blob");
        fs::write(&blob, &tar).unwrap();
        let r = extract_layer(&blob, &dir.path().join("out"), "sha256:test", &NO_CAP);
        (dir, r)
    }

    #[test]
    fn extracts_files_dirs_links_and_metadata() {
        let mut t = TarBuilder::new();
        t.dir("./etc", 0o755);
        t.file_with("etc/secret", b"s3cret", 0o4750, 1000, 1001, 1_600_000_000);
        t.symlink("etc/link", "/etc/secret");
        t.hardlink("etc/hard", "etc/secret");
        t.fifo("etc/pipe");
        t.file("deep/er/file", b"x");
        let (dir, r) = extract(t.finish());
        let stats = r.unwrap();
        assert_eq!(stats.size, 7);
        let out = dir.path().join("out");
        let md = fs::symlink_metadata(out.join("etc/secret")).unwrap();
        assert_eq!(md.mode() & 0o7777, 0o4750);
        assert_eq!((md.uid(), md.gid()), (1000, 1001));
        assert_eq!(md.mtime(), 1_600_000_000);
        assert_eq!(
            fs::read_link(out.join("etc/link")).unwrap(),
            Path::new("/etc/secret")
        );
        assert_eq!(
            fs::symlink_metadata(out.join("etc/hard")).unwrap().ino(),
            md.ino()
        );
        assert!(fs::symlink_metadata(out.join("etc/pipe"))
            .unwrap()
            .file_type()
            .is_fifo());
        assert_eq!(fs::read(out.join("deep/er/file")).unwrap(), b"x");
    }

    #[test]
    fn diff_id_covers_the_whole_stream_and_gzip_is_detected() {
        let mut t = TarBuilder::new();
        t.file("a", b"hello");
        let plain = t.finish();
        let want = crate::image::layout::sha256_bytes(&plain);
        let (_d, r) = extract(plain.clone());
        assert_eq!(r.unwrap().diff_id, want);
        let (_d, r) = extract(gzip(&plain));
        assert_eq!(r.unwrap().diff_id, want);
    }

    #[test]
    fn whiteouts_become_overlay_whiteouts() {
        let mut t = TarBuilder::new();
        t.dir("opq", 0o755);
        t.file("opq/.wh..wh..opq", b"");
        t.file("opq/new", b"n");
        t.file("dir/.wh.gone", b"");
        t.file(".wh..wh.plnk", b"");
        let (dir, r) = extract(t.finish());
        r.unwrap();
        let out = dir.path().join("out");
        let md = fs::symlink_metadata(out.join("dir/gone")).unwrap();
        assert!(md.file_type().is_char_device());
        assert_eq!(md.rdev(), 0);
        assert!(!out.join("dir/.wh.gone").exists());
        assert_eq!(
            get_xattr(&out.join("opq"), OVERLAY_OPAQUE_XATTR).unwrap(),
            b"y"
        );
        assert!(!out.join("opq/.wh..wh..opq").exists());
        assert!(!out.join(".wh..wh.plnk").exists());
    }

    #[test]
    fn layer_overlay_xattrs_are_dropped_but_others_kept() {
        let mut t = TarBuilder::new();
        t.file_xattrs(
            "f",
            b"x",
            &[("trusted.overlay.redirect", b"/etc"), ("user.note", b"hi")],
        );
        let (dir, r) = extract(t.finish());
        r.unwrap();
        let f = dir.path().join("out/f");
        assert!(get_xattr(&f, "trusted.overlay.redirect").is_err());
        assert_eq!(get_xattr(&f, "user.note").unwrap(), b"hi");
    }

    fn assert_refused(t: TarBuilder, entry: &str, reason_part: &str) {
        let (_d, r) = extract(t.finish());
        match r {
            Err(ImageError::UnsafeLayerEntry {
                layer,
                entry: e,
                reason,
            }) => {
                assert_eq!(layer, "sha256:test");
                assert_eq!(e, entry);
                assert!(reason.contains(reason_part), "{reason}");
            }
            other => panic!("expected refusal of {entry}, got {other:?}"),
        }
    }

    #[test]
    fn refuses_escapes_and_devices() {
        let mut t = TarBuilder::new();
        t.file_raw_name("../x", b"x");
        assert_refused(t, "../x", "..");

        let mut t = TarBuilder::new();
        t.file_raw_name("a/../../x", b"x");
        assert_refused(t, "a/../../x", "..");

        let mut t = TarBuilder::new();
        t.file_raw_name("/etc/x", b"x");
        assert_refused(t, "/etc/x", "absolute");

        let mut t = TarBuilder::new();
        t.symlink("evil", "/etc");
        t.file("evil/passwd", b"pwned");
        assert_refused(t, "evil/passwd", "symlink");

        let mut t = TarBuilder::new();
        t.symlink("evil", "..");
        t.dir("evil/sub", 0o755);
        assert_refused(t, "evil/sub", "symlink");

        let mut t = TarBuilder::new();
        t.hardlink_raw("h", "../x");
        assert_refused(t, "h", "..");

        let mut t = TarBuilder::new();
        t.hardlink_raw("h", "/etc/passwd");
        assert_refused(t, "h", "absolute");

        let mut t = TarBuilder::new();
        t.symlink("evil", "/etc");
        t.hardlink("h", "evil/passwd");
        assert_refused(t, "h", "symlink");

        let mut t = TarBuilder::new();
        t.hardlink("h", "missing");
        assert_refused(t, "h", "not in this layer");

        let mut t = TarBuilder::new();
        t.device("sda", EntryType::Block, 8, 0);
        assert_refused(t, "sda", "block device");

        let mut t = TarBuilder::new();
        t.device("mem", EntryType::Char, 1, 1);
        assert_refused(t, "mem", "character device");

        let mut t = TarBuilder::new();
        t.file("f", b"x");
        t.file_raw_name("f/child", b"x");
        assert_refused(t, "f/child", "not a directory");
    }

    #[test]
    fn replaces_a_symlink_instead_of_writing_through_it() {
        let dir = tempdir();
        let outside = dir.path().join("outside");
        fs::write(&outside, b"keep").unwrap();
        let mut t = TarBuilder::new();
        t.symlink("f", outside.to_str().unwrap());
        t.file("f", b"new");
        let blob = dir.path().join("blob");
        fs::write(&blob, t.finish()).unwrap();
        extract_layer(&blob, &dir.path().join("out"), "sha256:test", &NO_CAP).unwrap();
        assert_eq!(fs::read(&outside).unwrap(), b"keep");
        assert_eq!(fs::read(dir.path().join("out/f")).unwrap(), b"new");
    }

    #[test]
    fn allows_whiteout_char_device_and_dot_slash_prefix() {
        let mut t = TarBuilder::new();
        t.dir("./", 0o755);
        t.device("./gone", EntryType::Char, 0, 0);
        let (dir, r) = extract(t.finish());
        r.unwrap();
        let md = fs::symlink_metadata(dir.path().join("out/gone")).unwrap();
        assert!(md.file_type().is_char_device());
    }

    #[test]
    fn refuses_xz_layers_clearly() {
        let (_d, r) = extract(vec![0xfd, b'7', b'z', b'X', b'Z', 0, 0, 0]);
        let msg = r.unwrap_err().to_string();
        assert!(msg.contains("xz"), "{msg}");
    }

    #[test]
    fn zstd_layers_of_several_frames_extract_with_the_plain_diff_id() {
        let mut t = TarBuilder::new();
        t.file("a", b"first");
        t.file("b", &vec![7u8; 300_000]);
        let plain = t.finish();
        let (one, two) = plain.split_at(plain.len() / 2);
        let level = ruzstd::encoding::CompressionLevel::Fastest;
        let mut z = ruzstd::encoding::compress_to_vec(one, level);
        z.extend(ruzstd::encoding::compress_to_vec(two, level));
        let (dir, r) = extract(z);
        let stats = r.unwrap();
        assert_eq!(stats.diff_id, super::super::layout::sha256_bytes(&plain));
        assert_eq!(fs::read(dir.path().join("out/a")).unwrap(), b"first");
        assert_eq!(
            fs::metadata(dir.path().join("out/b")).unwrap().len(),
            300_000
        );
    }

    #[test]
    fn pax_times_parse() {
        assert_eq!(parse_pax_time("12.5"), Some(TimeSpec::new(12, 500_000_000)));
        assert_eq!(parse_pax_time("12"), Some(TimeSpec::new(12, 0)));
        assert_eq!(parse_pax_time("x"), None);
    }
}
