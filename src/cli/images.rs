//! `images`, `rmi`, `image import|ls|rm|inspect`.

use std::io::Write;

use crate::engine::Engine;
use crate::image::{reference, Image, RootfsConfig};
use crate::{phase_span, trace};

use super::args::{ImageCommand, ImagesArgs, ImportArgs, RmiArgs};
use super::ps::human_duration;
use super::{fail1, start_tracing, Context, Failure};

fn human_size(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e9 {
        format!("{:.3}GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.2}MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.1}kB", b / 1e3)
    } else {
        format!("{bytes}B")
    }
}

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
        let (repo, tag) = fam.rsplit_once(':').unwrap_or((fam.as_str(), "<none>"));
        let created = i
            .created
            .as_deref()
            .and_then(crate::state::container::parse_rfc3339)
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
            human_size(i.size)
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
