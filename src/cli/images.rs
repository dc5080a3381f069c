//! `images`, `rmi`, `image import|ls|rm|inspect`, `pull`, `login`, `logout`.

use std::io::{IsTerminal, Read, Write};

use crate::engine::Engine;
use crate::image::pull::PullError;
use crate::image::pull::{Credentials, LinePrinter, NoProgress, Progress, PullEvent};
use crate::image::{reference, Image, ImageError, RootfsConfig};

const BUSYBOX: &str = "docker.io/library/busybox:latest";
use crate::sys::size::human_size;
use crate::{phase_span, trace};

use super::args::{ImageCommand, ImagesArgs, ImportArgs, LoginArgs, PullArgs, RmiArgs};
use super::{fail1, start_tracing, Context, Failure};
use crate::api::status::human_duration;

fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..12.min(hex.len())]
}

pub fn list(engine: &Engine, a: ImagesArgs) -> Result<i32, Failure> {
    let images = engine
        .images()
        .map_err(fail1)?
        .list()
        .map_err(|e| fail1(e.into()))?;
    let out = &mut std::io::stdout().lock();
    if a.quiet {
        for i in &images {
            let _ = writeln!(out, "{}", short_id(&i.id));
        }
        return Ok(0);
    }
    if a.format == "json" {
        for i in &images {
            let _ = writeln!(out, "{}", serde_json::to_string(i).unwrap_or_default());
        }
        return Ok(0);
    }
    let _ = writeln!(
        out,
        "{:<40} {:<12} {:<14} {:<16} SIZE",
        "REPOSITORY", "TAG", "IMAGE ID", "CREATED"
    );
    for i in &images {
        let fam = reference::familiar(&i.reference);
        // A digest reference (a pull by digest) has no tag, as in docker's listing.
        let (repo, tag) = match fam.split_once('@') {
            Some((name, _)) => (name, "<none>"),
            None => fam.rsplit_once(':').unwrap_or((fam.as_str(), "<none>")),
        };
        let created = i
            .created
            .as_deref()
            .and_then(crate::sys::time::parse_rfc3339)
            .and_then(|t| std::time::SystemTime::now().duration_since(t).ok())
            .map_or_else(
                || "N/A".to_string(),
                |d| human_duration(d.as_secs()) + " ago",
            );
        let _ = writeln!(
            out,
            "{:<40} {:<12} {:<14} {:<16} {}",
            repo,
            tag,
            short_id(&i.id),
            created,
            human_size(i.size, 3)
        );
    }
    Ok(0)
}

pub fn remove(engine: &Engine, a: RmiArgs) -> Result<i32, Failure> {
    crate::engine::Engine::require_root().map_err(fail1)?;
    let store = engine.images().map_err(fail1)?;
    let mut code = 0;
    for r in &a.images {
        match store.remove(r) {
            Ok(lines) => lines.iter().for_each(|l| println!("{l}")),
            Err(e) => {
                eprintln!("ctrace: {e}");
                code = 1;
            }
        }
    }
    Ok(code)
}

/// `--cmd '["sh","-c","x"]'` or `--cmd 'sh -c x'`.
fn argv(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_else(|_| s.split_whitespace().map(str::to_string).collect())
}

fn import(ctx: &Context, a: ImportArgs) -> Result<i32, Failure> {
    crate::engine::Engine::require_root().map_err(fail1)?;
    start_tracing(false, None);
    let store = ctx.engine.images().map_err(fail1)?;
    let result: Result<Vec<Image>, crate::image::ImageError> = {
        let span = phase_span!("image.import", source = %a.source.display(), rootfs = a.rootfs);
        let _e = span.enter();
        let r = if a.rootfs {
            let Some(reference) = a.reference.as_deref() else {
                return Err(Failure::new(
                    1,
                    "a rootfs import needs a name: ctrace image import --rootfs FILE NAME[:TAG]",
                ));
            };
            let cfg = RootfsConfig {
                cmd: a.cmd.as_deref().map(argv),
                entrypoint: a.entrypoint.as_deref().map(argv),
                env: a.env.clone(),
                workdir: a.workdir.clone(),
                user: None,
            };
            store
                .import_rootfs_tar(&a.source, reference, &cfg)
                .map(|i| vec![i])
        } else {
            store.import_archive(&a.source, a.reference.as_deref())
        };
        match &r {
            Ok(imgs) => trace::note(&span, format!("{} image(s) imported", imgs.len())),
            Err(e) => trace::fail(&span, e),
        }
        r
    };
    let spans = crate::trace::recorder::take();
    if super::recording_enabled() && !spans.is_empty() {
        let file = crate::engine::trace_file(
            "image.import",
            None,
            ctx.argv.clone(),
            crate::trace::recorder::trace_id(),
            spans,
        );
        let _ = crate::trace::store::write(&ctx.engine.paths.traces(), &file);
    }
    let images = result.map_err(|e| Failure::new(1, e))?;
    for i in images {
        println!(
            "Loaded image: {} ({})",
            reference::familiar(&i.reference),
            i.id
        );
    }
    Ok(0)
}

pub fn command(ctx: &Context, c: ImageCommand) -> Result<i32, Failure> {
    match c {
        ImageCommand::Import(a) => import(ctx, a),
        ImageCommand::Ls(a) => list(&ctx.engine, a),
        ImageCommand::Rm(a) => remove(&ctx.engine, a),
        ImageCommand::Inspect { images } => {
            let store = ctx.engine.images().map_err(fail1)?;
            let mut docs = Vec::new();
            let mut code = 0;
            for r in &images {
                match store.resolve(r) {
                    Ok(i) => docs.push(serde_json::to_value(&i).unwrap_or_default()),
                    Err(e) => {
                        eprintln!("ctrace: {e}");
                        code = 1;
                    }
                }
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&docs).unwrap_or_default()
            );
            Ok(code)
        }
    }
}

/// Progress bars for `ctrace pull` on a terminal: one per layer and a total (indicatif).
struct Bars {
    multi: indicatif::MultiProgress,
    total: indicatif::ProgressBar,
    layers: std::sync::Mutex<std::collections::HashMap<String, (indicatif::ProgressBar, u64)>>,
}

impl Bars {
    fn new() -> Bars {
        let multi = indicatif::MultiProgress::new();
        let total = multi.add(indicatif::ProgressBar::new(0));
        total.set_style(
            indicatif::ProgressStyle::with_template(
                "{prefix:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        total.set_prefix("total");
        Bars {
            multi,
            total,
            layers: Default::default(),
        }
    }
}

impl Progress for Bars {
    fn event(&self, event: PullEvent) {
        let mut layers = self.layers.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            PullEvent::PullingFrom { tag, repository } => {
                let _ = self
                    .multi
                    .println(format!("{tag}: Pulling from {repository}"));
            }
            PullEvent::Waiting { id, size } => {
                let bar = self
                    .multi
                    .insert_before(&self.total, indicatif::ProgressBar::new(size));
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{prefix:>12} {msg:<18} [{bar:30}] {bytes}/{total_bytes}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar.set_prefix(id.clone());
                bar.set_message("Waiting");
                self.total.inc_length(size);
                layers.insert(id, (bar, 0));
            }
            PullEvent::AlreadyExists { id } => {
                let _ = self.multi.println(format!("{id:>12}: Already exists"));
            }
            PullEvent::Downloading { id, current, .. } => {
                if let Some((bar, seen)) = layers.get_mut(&id) {
                    bar.set_message("Downloading");
                    bar.set_position(current);
                    self.total.inc(current.saturating_sub(*seen));
                    *seen = current;
                }
            }
            PullEvent::DownloadComplete { id } => {
                if let Some((bar, _)) = layers.get(&id) {
                    bar.set_message("Download complete");
                }
            }
            PullEvent::Extracting { id } => {
                if let Some((bar, _)) = layers.get(&id) {
                    bar.set_message("Extracting");
                }
            }
            PullEvent::PullComplete { id } => {
                if let Some((bar, _)) = layers.get(&id) {
                    bar.set_message("Pull complete");
                    bar.finish();
                }
            }
            PullEvent::Digest { digest } => {
                self.total.finish();
                let _ = self.multi.println(format!("Digest: {digest}"));
            }
            PullEvent::Status { message } => {
                let _ = self.multi.println(format!("Status: {message}"));
            }
            PullEvent::Warning { message } => {
                self.multi.suspend(|| eprintln!("WARNING: {message}"));
            }
        }
    }
}

/// `ctrace pull`: docker's output (bars on a terminal, lines otherwise, only the reference
/// with -q), a `pull` trace.
pub fn pull(ctx: &Context, a: PullArgs) -> Result<i32, Failure> {
    crate::engine::Engine::require_root().map_err(fail1)?;
    let view = start_tracing(a.explain, a.lang.as_deref());
    if view.is_some() {
        let id = crate::trace::recorder::trace_id();
        eprintln!(
            "tracing `pull {}` — trace {}",
            a.reference,
            &id[..8.min(id.len())]
        );
    }
    let store = ctx.engine.images().map_err(fail1)?;
    let mut opts = ctx.engine.pull.clone();
    opts.platform = a.platform.clone();
    let progress: Box<dyn Progress> = if a.quiet {
        Box::new(NoProgress)
    } else if std::io::stdout().is_terminal() && view.is_none() {
        // Bars redraw in place; the --explain timeline would be torn through them.
        Box::new(Bars::new())
    } else {
        Box::new(LinePrinter::stdout())
    };
    let result = {
        let span = phase_span!("pull", reference = %a.reference);
        let _e = span.enter();
        let mut r = crate::image::pull::pull(&store, &a.reference, &opts, progress.as_ref());
        // The classroom fallback: no registry, but busybox can be built from the host.
        if let Err(ImageError::Pull(e @ PullError::Unreachable { .. })) = &r {
            if reference::normalize(&a.reference).ok().as_deref() == Some(BUSYBOX) {
                let why = e.to_string();
                let b = phase_span!("image.bootstrap");
                let _e = b.enter();
                r = store
                    .bootstrap_busybox()
                    .inspect_err(|e| trace::fail(&b, e))
                    .map(|image| {
                        eprintln!("ctrace: {why}: built busybox:latest from the host's static busybox instead");
                        trace::note(&b, "busybox:latest built from the host's static busybox");
                        crate::image::pull::PullOutcome {
                            reference: BUSYBOX.to_string(),
                            digest: image.manifest_digest.clone(),
                            downloaded_bytes: 0,
                            downloaded: false,
                            image,
                        }
                    });
            }
        }
        match &r {
            Ok(o) => trace::note(
                &span,
                format!(
                    "{} ({}) → {} · {}",
                    reference::familiar(&o.reference),
                    short_id(&o.digest),
                    short_id(&o.image.id),
                    if o.downloaded {
                        format!("{} bytes downloaded", o.downloaded_bytes)
                    } else {
                        "up to date".to_string()
                    }
                ),
            ),
            Err(e) => trace::fail(&span, e),
        }
        r
    };
    drop(progress);
    let spans = crate::trace::recorder::take();
    if !spans.is_empty() {
        let file = crate::engine::trace_file(
            "pull",
            None,
            ctx.argv.clone(),
            crate::trace::recorder::trace_id(),
            spans,
        );
        if super::recording_enabled() {
            let _ = crate::trace::store::write(&ctx.engine.paths.traces(), &file);
        }
        if view.is_some() {
            eprint!(
                "{}",
                crate::trace::explain::summary_line(
                    &crate::trace::explain::Style::for_stderr("en"),
                    &file
                )
            );
        }
    }
    let out = result.map_err(|e| Failure::new(1, e))?;
    println!("{}", out.reference);
    Ok(0)
}

fn read_line(prompt: &str) -> Result<String, Failure> {
    eprint!("{prompt}");
    let mut s = String::new();
    std::io::stdin()
        .read_line(&mut s)
        .map_err(|e| Failure::new(1, format!("read {}: {e}", prompt.trim_end_matches(": "))))?;
    Ok(s.trim_end_matches(['\n', '\r']).to_string())
}

/// `ctrace login [SERVER] [-u USER] [-p PASS | --password-stdin]`.
pub fn login(engine: &Engine, a: LoginArgs) -> Result<i32, Failure> {
    crate::engine::Engine::require_root().map_err(fail1)?;
    let server = crate::image::pull::normalize_registry(a.server.as_deref().unwrap_or(""));
    let user = match a.username {
        Some(u) => u,
        None => read_line("Username: ")?,
    };
    if user.is_empty() {
        return Err(Failure::new(1, "login needs a username: give one with -u"));
    }
    let password = match (a.password, a.password_stdin) {
        (Some(_), true) => {
            return Err(Failure::new(
                1,
                "--password and --password-stdin are mutually exclusive: give one",
            ))
        }
        (Some(p), false) => {
            eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
            p
        }
        (None, true) => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| Failure::new(1, format!("read the password from stdin: {e}")))?;
            s.trim_end_matches(['\n', '\r']).to_string()
        }
        (None, false) => read_line("Password: ")?,
    };
    if password.is_empty() {
        return Err(Failure::new(
            1,
            "login needs a password: give one with --password-stdin",
        ));
    }
    let creds = Credentials { user, password };
    crate::image::pull::login(&engine.paths.root, &server, &creds, &engine.pull)
        .map_err(|e| Failure::new(1, e))?;
    println!("Login Succeeded");
    Ok(0)
}

/// `ctrace logout [SERVER]`.
pub fn logout(engine: &Engine, server: Option<&str>) -> Result<i32, Failure> {
    crate::engine::Engine::require_root().map_err(fail1)?;
    let server = crate::image::pull::normalize_registry(server.unwrap_or(""));
    if crate::image::pull::logout(&engine.paths.root, &server).map_err(|e| Failure::new(1, e))? {
        println!("Removing login credentials for {server}");
    } else {
        println!("Not logged in to {server}");
    }
    Ok(0)
}
