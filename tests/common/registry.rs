//! A real OCI registry for pull tests: Debian's `docker-registry` (distribution 2.8) on a free
//! 127.0.0.1 port with its own storage, test images written as OCI layouts from the host's
//! static busybox and pushed with `skopeo`, and a small in-process HTTP proxy in front of the
//! registry that plays a bearer-token server or breaks things on purpose (cuts a blob mid-body,
//! flips a byte). Everything lives under one temp directory and is removed on drop; the registry
//! process is killed by its pid.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::archive::{static_busybox, tar_header};
use super::poll::within;

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One running `docker-registry serve`.
pub struct Registry {
    /// `127.0.0.1:<port>`.
    pub addr: String,
    pub dir: PathBuf,
    /// `(user, password)` when the registry wants htpasswd basic auth.
    pub creds: Option<(String, String)>,
    child: Child,
}

impl Registry {
    /// A registry without auth.
    pub fn start(test: &str) -> Registry {
        Registry::spawn(test, None)
    }

    /// A registry holding `team/app:1.2` (busybox + `/etc/hello` = `hello`, and `filler` bytes
    /// of incompressible data in `/filler`).
    pub fn with_app(test: &str, filler: usize) -> (Registry, TestImage) {
        let reg = Registry::start(test);
        let img = build_layout(&reg.dir.join("layout"), "hello", filler, &[host_arch()]);
        reg.push(&img.layout, &img.layout_ref, "team/app:1.2", false);
        (reg, img)
    }

    /// A registry that wants basic auth for `user`/`password` (htpasswd, bcrypt).
    pub fn start_with_htpasswd(test: &str, user: &str, password: &str) -> Registry {
        Registry::spawn(test, Some((user.to_string(), password.to_string())))
    }

    fn spawn(test: &str, creds: Option<(String, String)>) -> Registry {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "ctrace-registry-{}-{}-{n}",
            test.replace('_', "-"),
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
            dir.join("data").display()
        );
        if let Some((user, password)) = &creds {
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, password])
                .output()
                .expect("htpasswd is not installed: run scripts/deps.sh (apache2-utils)");
            assert!(out.status.success(), "htpasswd failed");
            std::fs::write(dir.join("htpasswd"), &out.stdout).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: ctrace-test\n    path: {}\n",
                dir.join("htpasswd").display()
            ));
        }
        std::fs::write(dir.join("config.yml"), config).unwrap();
        let log = std::fs::File::create(dir.join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("docker-registry is not installed: run scripts/deps.sh");
        let reg = Registry {
            addr,
            dir,
            creds,
            child,
        };
        // Readiness, not timing: the port answers once the registry listens.
        let up = within(Duration::from_secs(20), || {
            TcpStream::connect(&reg.addr).ok()
        });
        assert!(
            up.is_some(),
            "registry did not start: {}",
            std::fs::read_to_string(reg.dir.join("registry.log")).unwrap_or_default()
        );
        reg
    }

    /// `skopeo copy` an image of an OCI layout to `<addr>/<dest>` (`repo:tag`); `all` copies
    /// every platform of an index.
    pub fn push(&self, layout: &Path, layout_ref: &str, dest: &str, all: bool) {
        self.push_as(layout, layout_ref, dest, all, None)
    }

    /// [`Registry::push`] converting the manifest (`v2s2`: Docker schema 2, `oci`).
    pub fn push_as(
        &self,
        layout: &Path,
        layout_ref: &str,
        dest: &str,
        all: bool,
        format: Option<&str>,
    ) {
        let mut c = Command::new("skopeo");
        c.args(["--insecure-policy", "copy", "-q", "--dest-tls-verify=false"]);
        if let Some(f) = format {
            c.arg(format!("--format={f}"));
        }
        if all {
            c.arg("--all");
        }
        if let Some((u, p)) = &self.creds {
            c.arg(format!("--dest-creds={u}:{p}"));
        }
        let out = c
            .arg(format!("oci:{}:{layout_ref}", layout.display()))
            .arg(format!("docker://{}/{dest}", self.addr))
            .output()
            .expect("skopeo is not installed: run scripts/deps.sh");
        assert!(
            out.status.success(),
            "skopeo copy failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Blob files in the registry's storage (to compare with what a pull fetched).
    pub fn stored_blobs(&self) -> usize {
        let root = self.dir.join("data/docker/registry/v2/blobs/sha256");
        let mut n = 0;
        for shard in std::fs::read_dir(root).into_iter().flatten().flatten() {
            n += std::fs::read_dir(shard.path())
                .map(|r| r.count())
                .unwrap_or(0);
        }
        n
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = nix_kill(self.child.id());
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn nix_kill(pid: u32) -> i32 {
    // SAFETY: kill(2) on the pid of a child we spawned and have not reaped yet.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) }
}

/// What a test image is made of.
pub struct TestImage {
    /// The OCI layout directory.
    pub layout: PathBuf,
    /// The tag in the layout's index.json (`org.opencontainers.image.ref.name`).
    pub layout_ref: String,
    /// `sha256:…` of the manifest for the host's platform.
    pub manifest_digest: String,
    /// `sha256:…` of its config (the image id).
    pub config_digest: String,
    /// `sha256:…` of each layer blob.
    pub layers: Vec<String>,
    /// `sha256:…` of the image index, when built with several platforms.
    pub index_digest: Option<String>,
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Layer 1: the host's static busybox as `/bin/busybox` with a few applets; layer 2: a text
/// file `/etc/hello` holding `hello`, plus `filler` bytes of incompressible data in `/filler`
/// (to make a layer big enough to measure).
fn layers(hello: &str, filler: usize) -> Vec<Vec<u8>> {
    let bin = std::fs::read(static_busybox()).unwrap();
    let mut b = tar::Builder::new(Vec::new());
    b.append_data(
        &mut tar_header(tar::EntryType::Directory, 0o755, 0),
        "bin",
        &[][..],
    )
    .unwrap();
    b.append_data(
        &mut tar_header(tar::EntryType::Regular, 0o755, bin.len() as u64),
        "bin/busybox",
        &bin[..],
    )
    .unwrap();
    for applet in ["sh", "cat", "echo", "true", "ls", "uname"] {
        let mut h = tar_header(tar::EntryType::Symlink, 0o777, 0);
        b.append_link(&mut h, format!("bin/{applet}"), "busybox")
            .unwrap();
    }
    let l1 = b.into_inner().unwrap();

    let mut b = tar::Builder::new(Vec::new());
    b.append_data(
        &mut tar_header(tar::EntryType::Directory, 0o755, 0),
        "etc",
        &[][..],
    )
    .unwrap();
    b.append_data(
        &mut tar_header(tar::EntryType::Regular, 0o644, hello.len() as u64),
        "etc/hello",
        hello.as_bytes(),
    )
    .unwrap();
    if filler > 0 {
        // xorshift: deterministic, incompressible enough that gzip keeps it big.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let data: Vec<u8> = (0..filler)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        b.append_data(
            &mut tar_header(tar::EntryType::Regular, 0o644, data.len() as u64),
            "filler",
            &data[..],
        )
        .unwrap();
    }
    vec![l1, b.into_inner().unwrap()]
}

/// The host's architecture in GOARCH spelling.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

struct Blobs {
    dir: PathBuf,
}

impl Blobs {
    fn put(&self, data: &[u8]) -> (String, u64) {
        let hex = sha256_hex(data);
        std::fs::write(self.dir.join(&hex), data).unwrap();
        (format!("sha256:{hex}"), data.len() as u64)
    }
}

/// Write an OCI layout under `dir` whose image tagged `v1` prints `hello` from `/etc/hello`.
/// With `platforms` of more than one architecture, `v1` is an image index with one manifest per
/// platform (only the host's is runnable; the others differ by their config).
pub fn build_layout(dir: &Path, hello: &str, filler: usize, platforms: &[&str]) -> TestImage {
    build_layout_with(dir, hello, filler, platforms, false)
}

/// [`build_layout`] with zstd-compressed layers when `zstd`.
pub fn build_layout_with(
    dir: &Path,
    hello: &str,
    filler: usize,
    platforms: &[&str],
    zstd: bool,
) -> TestImage {
    let blobs = Blobs {
        dir: dir.join("blobs/sha256"),
    };
    std::fs::create_dir_all(&blobs.dir).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let raw = layers(hello, filler);
    let diff_ids: Vec<String> = raw
        .iter()
        .map(|l| format!("sha256:{}", sha256_hex(l)))
        .collect();
    let layer_descs: Vec<(String, u64)> = raw
        .iter()
        .map(|l| {
            blobs.put(&if zstd {
                ruzstd::encoding::compress_to_vec(
                    &l[..],
                    ruzstd::encoding::CompressionLevel::Fastest,
                )
            } else {
                gzip(l)
            })
        })
        .collect();
    let layer_media = if zstd {
        "application/vnd.oci.image.layer.v1.tar+zstd"
    } else {
        "application/vnd.oci.image.layer.v1.tar+gzip"
    };
    let mut manifests = Vec::new();
    for arch in platforms {
        let config = serde_json::json!({
            "created": "2024-01-01T00:00:00Z",
            "architecture": arch,
            "os": "linux",
            "config": {"Cmd": ["cat", "/etc/hello"], "Env": ["PATH=/bin"], "Labels": {"test.platform": arch}},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        let (cdigest, csize) = blobs.put(&serde_json::to_vec(&config).unwrap());
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdigest, "size": csize},
            "layers": layer_descs.iter().map(|(d, s)| serde_json::json!({
                "mediaType": layer_media, "digest": d, "size": s
            })).collect::<Vec<_>>(),
        });
        let (mdigest, msize) = blobs.put(&serde_json::to_vec(&manifest).unwrap());
        manifests.push((arch.to_string(), mdigest, msize, cdigest));
    }
    let host = manifests
        .iter()
        .find(|m| m.0 == host_arch())
        .unwrap_or(&manifests[0])
        .clone();
    let (top, index_digest) = if platforms.len() == 1 {
        (
            serde_json::json!({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": host.1, "size": host.2,
                "annotations": {"org.opencontainers.image.ref.name": "v1"}}),
            None,
        )
    } else {
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": manifests.iter().map(|(arch, d, s, _)| serde_json::json!({
                "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d, "size": s,
                "platform": {"architecture": arch, "os": "linux"}
            })).collect::<Vec<_>>(),
        });
        let (idigest, isize) = blobs.put(&serde_json::to_vec(&index).unwrap());
        (
            serde_json::json!({"mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": idigest, "size": isize,
                "annotations": {"org.opencontainers.image.ref.name": "v1"}}),
            Some(idigest),
        )
    };
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [top]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    TestImage {
        layout: dir.to_path_buf(),
        layout_ref: "v1".into(),
        manifest_digest: host.1,
        config_digest: host.3,
        layers: layer_descs.into_iter().map(|(d, _)| d).collect(),
        index_digest,
    }
}

/// What the proxy in front of a registry does.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// Forward everything.
    None,
    /// Close the connection halfway through the body of the next blob GET (once).
    CutBlobOnce,
    /// Close the connection halfway through the body of every blob GET.
    CutBlobAlways,
    /// Flip one byte in the body of every GET of this blob digest.
    Corrupt(String),
}

/// A tiny HTTP/1.1 proxy to a registry, one request per connection. With `token`, it is also a
/// bearer-token server: `/v2/` requests without `Authorization: Bearer <issued token>` get 401
/// with a `WWW-Authenticate: Bearer realm=…,service=…,scope=…` challenge, and `GET /token`
/// issues a token (for anyone, or only with the right basic credentials).
pub struct Proxy {
    pub addr: String,
    stop: Arc<AtomicBool>,
    pub fault: Arc<Mutex<Fault>>,
    /// Requests for each path seen (`GET /v2/...`), in order.
    pub log: Arc<Mutex<Vec<String>>>,
    /// Tokens issued so far.
    pub tokens_issued: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Token-server settings for a [`Proxy`].
#[derive(Clone, Debug)]
pub struct TokenAuth {
    /// `Some((user, password))`: the token endpoint wants these basic credentials.
    pub creds: Option<(String, String)>,
}

impl Proxy {
    pub fn start(upstream: &str, token: Option<TokenAuth>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let fault = Arc::new(Mutex::new(Fault::None));
        let log = Arc::new(Mutex::new(Vec::new()));
        let tokens_issued = Arc::new(AtomicUsize::new(0));
        let shared = Shared {
            upstream: upstream.to_string(),
            me: addr.clone(),
            token,
            fault: fault.clone(),
            log: log.clone(),
            tokens_issued: tokens_issued.clone(),
        };
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            let shared = Arc::new(shared);
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => {
                        let sh = shared.clone();
                        std::thread::spawn(move || {
                            let _ = s.set_nonblocking(false);
                            let _ = sh.serve(s);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Proxy {
            addr,
            stop,
            fault,
            log,
            tokens_issued,
            thread: Some(thread),
        }
    }

    pub fn set_fault(&self, f: Fault) {
        *self.fault.lock().unwrap() = f;
    }

    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Shared {
    upstream: String,
    me: String,
    token: Option<TokenAuth>,
    fault: Arc<Mutex<Fault>>,
    log: Arc<Mutex<Vec<String>>>,
    tokens_issued: Arc<AtomicUsize>,
}

const ISSUED: &str = "ctrace-test-token";

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

impl Shared {
    fn serve(&self, client: TcpStream) -> std::io::Result<()> {
        let mut reader = BufReader::new(client.try_clone()?);
        let mut request_line = String::new();
        reader.read_line(&mut request_line)?;
        let mut headers = BTreeMap::new();
        let mut raw_headers = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
                break;
            }
            if let Some((k, v)) = line.trim_end().split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                raw_headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let mut parts = request_line.split_whitespace();
        let (method, target) = (
            parts.next().unwrap_or("").to_string(),
            parts.next().unwrap_or("").to_string(),
        );
        let range = headers
            .get("range")
            .map(|r| format!(" range={r}"))
            .unwrap_or_default();
        self.log
            .lock()
            .unwrap()
            .push(format!("{method} {target}{range}"));
        let mut client = client;
        if let Some(tok) = &self.token {
            if target.starts_with("/token") {
                let ok = match &tok.creds {
                    None => true,
                    Some((u, p)) => headers.get("authorization") == Some(&basic(u, p)),
                };
                if ok {
                    self.tokens_issued.fetch_add(1, Ordering::Relaxed);
                    let body = format!(r#"{{"token":"{ISSUED}","expires_in":300}}"#);
                    return respond(
                        &mut client,
                        "200 OK",
                        &[("Content-Type", "application/json")],
                        body.as_bytes(),
                    );
                }
                return respond(&mut client, "401 Unauthorized", &[("Content-Type", "application/json")], br#"{"errors":[{"code":"UNAUTHORIZED","message":"incorrect username or password"}]}"#);
            }
            if headers.get("authorization") != Some(&format!("Bearer {ISSUED}")) {
                let scope = target.strip_prefix("/v2/").and_then(|rest| {
                    rest.find("/manifests/")
                        .or_else(|| rest.find("/blobs/"))
                        .map(|i| format!("repository:{}:pull", &rest[..i]))
                });
                let mut challenge = format!(
                    r#"Bearer realm="http://{}/token",service="ctrace-test""#,
                    self.me
                );
                if let Some(s) = scope {
                    challenge.push_str(&format!(r#",scope="{s}""#));
                }
                return respond(
                    &mut client,
                    "401 Unauthorized",
                    &[
                        ("WWW-Authenticate", &challenge),
                        ("Content-Type", "application/json"),
                    ],
                    br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
                );
            }
        }
        // Forward to the registry, one request per connection.
        let mut up = TcpStream::connect(&self.upstream)?;
        let mut req = format!("{method} {target} HTTP/1.1\r\n");
        for (k, v) in &raw_headers {
            let lk = k.to_ascii_lowercase();
            if lk == "connection" || lk == "host" || (self.token.is_some() && lk == "authorization")
            {
                continue;
            }
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str(&format!(
            "Host: {}\r\nConnection: close\r\n\r\n",
            self.upstream
        ));
        up.write_all(req.as_bytes())?;
        if let Some(len) = headers
            .get("content-length")
            .and_then(|l| l.parse::<u64>().ok())
        {
            std::io::copy(&mut (&mut reader).take(len), &mut up)?;
        }
        let mut upr = BufReader::new(up);
        let mut head = Vec::new();
        let mut content_length = None;
        let mut status_ok = false;
        loop {
            let mut line = String::new();
            if upr.read_line(&mut line)? == 0 {
                break;
            }
            if head.is_empty() {
                status_ok = line.contains(" 200 ") || line.contains(" 206 ");
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                content_length = v.trim().parse::<usize>().ok();
            }
            head.extend_from_slice(line.as_bytes());
            if line == "\r\n" {
                break;
            }
        }
        client.write_all(&head)?;
        let blob_get = method == "GET" && target.contains("/blobs/sha256:");
        let fault = self.fault.lock().unwrap().clone();
        match (&fault, blob_get && status_ok, content_length) {
            (Fault::CutBlobOnce | Fault::CutBlobAlways, true, Some(len)) if len > 1 => {
                if fault == Fault::CutBlobOnce {
                    *self.fault.lock().unwrap() = Fault::None;
                }
                let mut body = vec![0u8; len / 2];
                upr.read_exact(&mut body)?;
                client.write_all(&body)?;
                client.flush()?;
                let _ = client.shutdown(Shutdown::Both);
                return Ok(());
            }
            (Fault::Corrupt(d), true, Some(len)) if target.ends_with(d.as_str()) && len > 0 => {
                let mut body = vec![0u8; len];
                upr.read_exact(&mut body)?;
                body[len / 2] ^= 0xff;
                client.write_all(&body)?;
            }
            _ => {
                std::io::copy(&mut upr, &mut client)?;
            }
        }
        client.flush()?;
        let _ = client.shutdown(Shutdown::Both);
        Ok(())
    }
}

fn respond(
    client: &mut TcpStream,
    status: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    client.write_all(out.as_bytes())?;
    client.write_all(body)?;
    client.flush()?;
    let _ = client.shutdown(Shutdown::Both);
    Ok(())
}
