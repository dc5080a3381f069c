//! `ctrace exec`: flags to [`engine::exec`], printed and exited like `docker exec` — the
//! command's own exit code, 126 when it cannot be invoked, 127 when it is not found, 1 when the
//! container is missing or not running.

use crate::engine::exec::ExecOptions;
use crate::engine::{self, Engine};
use crate::runtime::console as tty;
use crate::trace::recorder;

use super::args::ExecArgs;
use super::record::finish_trace;
use super::{start_tracing, Context, Failure};

pub fn exec(ctx: &Context, a: ExecArgs) -> Result<i32, Failure> {
    if a.tty && a.interactive && !tty::is_terminal(0) {
        return Err(Failure::new(1, "the input device is not a TTY"));
    }
    let mut env = Vec::new();
    for path in &a.env_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Failure::new(1, format!("cannot read env file {}: {e}", path.display()))
        })?;
        env.extend(env_lines(&text));
    }
    env.extend(a.env.iter().filter_map(|e| resolve_env(e)));
    let opts = ExecOptions {
        cmd: a.command,
        env,
        workdir: a.workdir,
        user: a.user,
        tty: a.tty,
        interactive: a.interactive,
        detach: a.detach,
    };
    Engine::require_root().map_err(super::fail1)?;
    start_tracing(false, None);
    if !recorder::trace_id().is_empty() {
        recorder::restart(None);
    }
    let (result, cfg) = engine::exec::exec(&ctx.engine, &a.container, &opts);
    let file = finish_trace(ctx, "exec", cfg.as_ref(), None);
    super::record::export_otlp(file.as_ref(), false);
    result.map_err(|e| {
        let code = match &e {
            engine::EngineError::Runtime { code, .. } => *code,
            _ => 1,
        };
        Failure::new(code, e)
    })
}

/// `NAME=value` as is; `NAME` alone takes our value, and is dropped when we have none (docker).
fn resolve_env(e: &str) -> Option<String> {
    if e.contains('=') {
        return Some(e.to_string());
    }
    std::env::var(e).ok().map(|v| format!("{e}={v}"))
}

/// An env file: one variable a line, `#` comments and blank lines skipped.
fn env_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(resolve_env)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_skip_comments_and_blank_lines() {
        let lines = env_lines("# a comment\nA=1\n\n  B=two words \nNO_SUCH_VAR_XYZ\n");
        assert_eq!(lines, ["A=1", "B=two words"]);
    }
}
