//! Fetching blobs: one verified blob into the store, and layers several at a time.
//!
//! For: the `pull.blob` spans. A blob streams into `<root>/tmp/pulls/<hex>.partial` through
//! sha256 under a flock on `<hex>.lock` (concurrent pulls of one image fetch each blob once) and
//! is renamed into `blobs/sha256/` only when digest and size match. A transfer that breaks is
//! resumed with `Range` a few times; what is left after that stays for the next pull.
//!
//! Not for: deciding which blobs a pull needs (the flow in `mod.rs`) or talking HTTP (`client`).

use std::collections::VecDeque;
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use sha2::{Digest as _, Sha256};

use super::client::Client;
use super::DEFAULT_CONCURRENT_DOWNLOADS;
use super::{short, status_error, Progress, PullError, PullEvent, PullOptions};
use crate::image::layout::{self, Descriptor};
use crate::image::reference::Reference;
use crate::image::{ImageError, ImageStore};
use crate::sys::flock::Flock;
use crate::{kernel_event, phase_span, trace};

/// Attempts at one blob transfer that breaks midway (each resumes where the last stopped).
const TRANSFER_ATTEMPTS: u32 = 3;

/// What fetching one blob did.
pub(super) struct Got {
    pub bytes: u64,
    seconds: f64,
    resumed_from: u64,
    present: bool,
}

impl Got {
    fn mb_per_s(&self) -> f64 {
        if self.seconds > 0.0 {
            self.bytes as f64 / 1e6 / self.seconds
        } else {
            0.0
        }
    }

    pub fn note(&self, what: &str) -> String {
        if self.present {
            return format!("{what} already in the store");
        }
        let resumed = if self.resumed_from > 0 {
            format!(", resumed at byte {}", self.resumed_from)
        } else {
            String::new()
        };
        format!(
            "{what}: {} bytes in {:.1} ms, {:.1} MB/s, sha256 verified{resumed}",
            self.bytes,
            self.seconds * 1e3,
            self.mb_per_s()
        )
    }
}

pub(super) struct Fetcher<'a> {
    pub client: &'a Client,
    pub store: &'a ImageStore,
    pub pulls_dir: &'a Path,
    pub repository: &'a str,
}

impl Fetcher<'_> {
    /// Make the blob `d` present in the store, verified. Concurrent pulls of one blob (other
    /// threads or processes) serialize on a flock; the later ones find it present.
    pub fn fetch(
        &self,
        d: &Descriptor,
        span: &tracing::Span,
        progress: Option<&dyn Progress>,
    ) -> Result<Got, ImageError> {
        let hex = layout::sha256_hex(&d.digest, "blob")?;
        let dest = self.store.blob_path(hex);
        let present = Got {
            bytes: 0,
            seconds: 0.0,
            resumed_from: 0,
            present: true,
        };
        if dest.exists() {
            return Ok(present);
        }
        let lock_path = self.pulls_dir.join(format!("{hex}.lock"));
        let _lock =
            Flock::exclusive(&lock_path).map_err(|e| ImageError::io("lock", &lock_path, e))?;
        if dest.exists() {
            kernel_event!(digest = %d.digest, "fetched meanwhile by another pull");
            return Ok(present);
        }
        let partial = self.pulls_dir.join(format!("{hex}.partial"));
        // A broken transfer is resumed from where it stopped, a few times, as docker retries
        // its downloads; what the registry refuses or what does not verify is not retried.
        let mut attempt = 1;
        let result = loop {
            match self.download(d, hex, &partial, span, progress) {
                Err(ImageError::Pull(e @ PullError::Transfer { .. }))
                    if attempt < TRANSFER_ATTEMPTS =>
                {
                    kernel_event!(digest = %d.digest, attempt, error = %e, "transfer broke, resuming");
                    attempt += 1;
                }
                r => break r,
            }
        };
        match &result {
            Ok(_) => {
                fs::rename(&partial, &dest)
                    .map_err(|e| ImageError::io("move blob into the store", &dest, e))?;
                layout::fsync_dir(&self.store.blobs_dir())?;
            }
            // Bytes that do not hash right are worthless; a cut transfer's prefix is kept
            // for the next pull to resume.
            Err(ImageError::DigestMismatch { .. } | ImageError::SizeMismatch { .. }) => {
                let _ = fs::remove_file(&partial);
            }
            Err(_) => {}
        }
        let _ = fs::remove_file(&lock_path);
        result
    }

    fn download(
        &self,
        d: &Descriptor,
        hex: &str,
        partial: &Path,
        span: &tracing::Span,
        progress: Option<&dyn Progress>,
    ) -> Result<Got, ImageError> {
        let id = short(&d.digest);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(partial)
            .map_err(|e| ImageError::io("open", partial, e))?;
        let mut have = file
            .metadata()
            .map_err(|e| ImageError::io("stat", partial, e))?
            .len();
        if have > d.size {
            file.set_len(0)
                .map_err(|e| ImageError::io("truncate", partial, e))?;
            have = 0;
        }
        // Re-hash what an earlier attempt left, so the digest covers the whole blob.
        let mut hasher = Sha256::new();
        if have > 0 {
            let mut buf = vec![0u8; 256 << 10];
            let mut r = (&file).take(have);
            loop {
                let n = r
                    .read(&mut buf)
                    .map_err(|e| ImageError::io("read", partial, e))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
            }
        }
        let path = format!("/v2/{}/blobs/{}", self.repository, d.digest);
        let what = format!("blob {}", d.digest);
        let mut headers = Vec::new();
        if have > 0 && have < d.size {
            headers.push(("Range", format!("bytes={have}-")));
        }
        let t0 = Instant::now();
        let resp = if have == d.size && d.size > 0 {
            None
        } else {
            Some(self.client.get(&path, &headers, &what)?)
        };
        let mut resumed_from = 0;
        if let Some(resp) = resp {
            let status = resp.status;
            match status {
                206 if have > 0 => {
                    resumed_from = have;
                    kernel_event!(digest = %d.digest, from = have, "resuming with a range request");
                }
                200 => {
                    if have > 0 {
                        // The registry ignored the range: start over.
                        file.set_len(0)
                            .map_err(|e| ImageError::io("truncate", partial, e))?;
                        hasher = Sha256::new();
                        have = 0;
                    }
                }
                _ => {
                    let r = Reference {
                        domain: self.client.endpoint.registry.clone(),
                        path: self.repository.to_string(),
                        tag: None,
                        digest: Some(d.digest.clone()),
                    };
                    let body = self
                        .client
                        .read_small(resp, 1 << 20, &what)
                        .unwrap_or_default();
                    return Err(status_error(self.client, &r, status, &body, &what).into());
                }
            }
            file.seek(io::SeekFrom::Start(have))
                .map_err(|e| ImageError::io("seek", partial, e))?;
            let mut reader = resp.into_reader(d.size - have + 1);
            let mut buf = vec![0u8; 256 << 10];
            let mut done = have;
            let mut last_report = 0u64;
            loop {
                let n = match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        let _ = file.sync_data();
                        return Err(PullError::Transfer {
                            registry: self.client.endpoint.registry.clone(),
                            what: format!("{what} after {done} of {} bytes", d.size),
                            reason: e.to_string(),
                        }
                        .into());
                    }
                };
                if done + n as u64 > d.size {
                    return Err(ImageError::SizeMismatch {
                        what: what.clone(),
                        expected: d.size,
                        actual: done + n as u64,
                    });
                }
                hasher.update(&buf[..n]);
                file.write_all(&buf[..n])
                    .map_err(|e| ImageError::io("write", partial, e))?;
                done += n as u64;
                if let Some(p) = progress {
                    if done - last_report >= 512 << 10 || done == d.size {
                        last_report = done;
                        p.event(PullEvent::Downloading {
                            id: id.clone(),
                            current: done,
                            total: d.size,
                        });
                    }
                }
            }
            have = done;
        }
        let seconds = t0.elapsed().as_secs_f64();
        if have != d.size {
            return Err(ImageError::SizeMismatch {
                what,
                expected: d.size,
                actual: have,
            });
        }
        let got = layout::hex(&hasher.finalize());
        if got != hex {
            return Err(ImageError::DigestMismatch {
                what: format!("{what} (downloaded)"),
                expected: d.digest.clone(),
                actual: format!("sha256:{got}"),
            });
        }
        file.sync_all()
            .map_err(|e| ImageError::io("fsync", partial, e))?;
        let g = Got {
            bytes: d.size - resumed_from,
            seconds,
            resumed_from,
            present: false,
        };
        span.record("mb_per_s", format!("{:.1}", g.mb_per_s()).as_str());
        if resumed_from > 0 {
            span.record("resumed_from", resumed_from);
        }
        kernel_event!(digest = %d.digest, bytes = d.size, "sha256 and size verified");
        Ok(g)
    }
}

/// Fetch layer blobs, `max_concurrent_downloads` at a time, each in a `pull.blob` span under
/// the current one. The first error stops new downloads and is returned.
pub(super) fn fetch_layers(
    fetcher: &Fetcher<'_>,
    todo: VecDeque<Descriptor>,
    opts: &PullOptions,
    progress: &dyn Progress,
) -> Result<Vec<Got>, ImageError> {
    let workers = match opts.max_concurrent_downloads {
        0 => DEFAULT_CONCURRENT_DOWNLOADS,
        n => n,
    }
    .min(todo.len().max(1));
    let queue = Mutex::new(todo);
    let results = Mutex::new(Vec::new());
    let first_error: Mutex<Option<ImageError>> = Mutex::new(None);
    let abort = AtomicBool::new(false);
    let parent = tracing::Span::current();
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                let _p = parent.enter();
                while !abort.load(Ordering::Relaxed) {
                    let Some(d) = queue.lock().unwrap().pop_front() else {
                        break;
                    };
                    let span = phase_span!(
                        "pull.blob",
                        digest = %d.digest,
                        kind = "layer",
                        bytes = d.size,
                        mb_per_s = tracing::field::Empty,
                        resumed_from = tracing::field::Empty
                    );
                    let _e = span.enter();
                    match fetcher.fetch(&d, &span, Some(progress)) {
                        Ok(g) => {
                            trace::note(&span, g.note(&format!("layer {}", short(&d.digest))));
                            progress.event(PullEvent::DownloadComplete {
                                id: short(&d.digest),
                            });
                            results.lock().unwrap().push(g);
                        }
                        Err(e) => {
                            trace::fail(&span, &e);
                            abort.store(true, Ordering::Relaxed);
                            first_error.lock().unwrap().get_or_insert(e);
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().unwrap() {
        return Err(e);
    }
    Ok(results.into_inner().unwrap())
}
