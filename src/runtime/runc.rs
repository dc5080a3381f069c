//! The external runtime: drive the `runc` CLI on the same bundle the embedded runtime reads.
//!
//! `runc create` runs in the shim with the container's stdout/stderr pipes as its stdio, so the
//! container inherits them; runc's own errors go to a separate JSON log (`--log`) that we read
//! back. When `runc create` exits, its init is reparented to the shim (a child subreaper), which
//! reaps it like its own. runc keeps its state under `<exec-root>/runc` so tests stay isolated.

use std::fs;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::kernel_event;
use crate::state::Paths;
use crate::sys::exit;

#[derive(Debug, thiserror::Error)]
pub enum RuncError {
    #[error("runc is not installed: install the runc package or use the embedded runtime (--runtime embedded)")]
    NotInstalled,
    #[error("runc {op} failed: {message}")]
    Failed { op: &'static str, message: String },
}

impl RuncError {
    /// Docker's exit code for this failure (the docker CLI's own mapping of runtime errors).
    pub fn exit_code(&self) -> i32 {
        let msg = self.to_string();
        if msg.contains("executable file not found") || msg.contains("no such file or directory") {
            exit::NOT_FOUND
        } else if msg.contains("permission denied") || msg.contains("is a directory") {
            exit::CANNOT_EXEC
        } else {
            exit::ENGINE
        }
    }
}

/// The runc binary, if installed.
pub fn binary() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("runc"))
        .find(|p| p.is_file())
}

fn base(paths: &Paths) -> Result<Command, RuncError> {
    let bin = binary().ok_or(RuncError::NotInstalled)?;
    let mut cmd = Command::new(bin);
    cmd.arg("--root").arg(paths.runc_root());
    // runc passes the dispositions it was started with on to the container: every signal's
    // default. (The C library's `posix_spawn`, which `Command` uses otherwise, leaves its
    // reserved signal 32 ignored in the child.)
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            crate::host::posix::default_signal_dispositions();
            Ok(())
        })
    };
    Ok(cmd)
}

/// The last error runc logged, from its JSON log.
fn last_error(log: &Path) -> Option<String> {
    let text = fs::read_to_string(log).ok()?;
    text.lines().rev().find_map(|l| {
        let v: serde_json::Value = serde_json::from_str(l).ok()?;
        (v["level"] == "error").then(|| v["msg"].as_str().unwrap_or("").to_string())
    })
}

/// `runc create`: returns the container's pid.
pub fn create(
    paths: &Paths,
    id: &str,
    bundle: &Path,
    stdout: OwnedFd,
    stderr: OwnedFd,
) -> Result<i32, RuncError> {
    let pid_file = bundle.join("runc.pid");
    let log = bundle.join("runc.log");
    let mut cmd = base(paths)?;
    cmd.arg("--log")
        .arg(&log)
        .arg("--log-format")
        .arg("json")
        .arg("create")
        .arg("--bundle")
        .arg(bundle)
        .arg("--pid-file")
        .arg(&pid_file)
        .arg(id)
        .stdin(Stdio::null())
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr));
    kernel_event!(bundle = %bundle.display(), "runc create");
    let status = cmd.status().map_err(|e| RuncError::Failed {
        op: "create",
        message: e.to_string(),
    })?;
    if !status.success() {
        return Err(RuncError::Failed {
            op: "create",
            message: last_error(&log).unwrap_or_else(|| format!("exit status {status}")),
        });
    }
    let pid = fs::read_to_string(&pid_file)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| RuncError::Failed {
            op: "create",
            message: format!("no pid in {}", pid_file.display()),
        })?;
    Ok(pid)
}

fn simple(paths: &Paths, op: &'static str, args: &[&str]) -> Result<(), RuncError> {
    let mut cmd = base(paths)?;
    cmd.arg(op).args(args).stdin(Stdio::null());
    kernel_event!(args = ?args, "runc {op}");
    let out = cmd.output().map_err(|e| RuncError::Failed {
        op,
        message: e.to_string(),
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(RuncError::Failed {
            op,
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// `runc start`: releases the container's init.
pub fn start(paths: &Paths, id: &str) -> Result<(), RuncError> {
    simple(paths, "start", &[id])
}

/// `runc delete --force`: kills what is left and removes runc's state and the cgroup.
pub fn delete(paths: &Paths, id: &str) -> Result<(), RuncError> {
    simple(paths, "delete", &["--force", id])
}

/// Waits (briefly) until `runc start` has finished with the container's `exec.fifo`.
///
/// `runc start` opens the fifo, which lets the container's process run, and removes it
/// afterwards. A container that exits at once can be reaped before that removal; deleting runc's
/// state then makes `runc start` fail with "remove …/exec.fifo: no such file" although the
/// container ran. So the exit path waits for the fifo to go before `runc delete`.
pub fn wait_started(paths: &Paths, id: &str) {
    let fifo = paths.runc_root().join(id).join("exec.fifo");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while fifo.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}
