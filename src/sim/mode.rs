//! Real or simulated: chosen once per command, before anything touches the host.
//!
//! `--sim` (or `CTRACE_SIM=1`) asks for the simulator; `--real` (or `CTRACE_SIM=0`) refuses it.
//! With neither, a host that cannot run real containers — not root, or a kernel without what a
//! real run needs — gets the simulator with one line saying why, so `ctrace run --explain busybox`
//! works on every student's machine. Children of a simulated command (the shim, the init) inherit
//! `CTRACE_SIM=1` and choose the same.
//!
//! Simulated state lives in its own directory — `$XDG_DATA_HOME/ctrace/sim` (or
//! `~/.local/share/ctrace/sim`, for root too) — never in a real engine's root:
//! containers, images and traces under `root/`, the modelled host under `host/`. The volatile
//! part — bundles (each container's rootfs with its mount points and device files), fifos,
//! sockets — goes where the real engine's `/run/ctrace` is: in the user's runtime directory
//! (`$XDG_RUNTIME_DIR/ctrace-sim/<key>`, a tmpfs of the login session, the key naming the
//! simulator's directory), else under `run/`. A simulated run makes and removes a dozen
//! directories per container; on a disk filesystem removing a directory costs milliseconds
//! (ext4 frees and journals its block), on a tmpfs microseconds.
//!
//! Not here: the simulated host itself ([`super::host`]).

use std::path::{Path, PathBuf};

/// The environment variable that carries the choice to child processes.
pub const SIM_ENV: &str = "CTRACE_SIM";

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ask {
    /// Nothing: real where possible, else simulated.
    #[default]
    Auto,
    Sim,
    Real,
}

/// What was chosen, and why (the line printed when the simulator is chosen for the user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    Real,
    Sim { why: Option<String> },
}

/// What the host offers, as far as the choice goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub root: bool,
    /// The first missing kernel feature a real run needs, if any.
    pub missing: Option<String>,
}

impl Facts {
    /// This machine's.
    pub fn probe() -> Facts {
        #[cfg(target_os = "linux")]
        let (root, missing) = {
            // SAFETY: geteuid cannot fail.
            let root = unsafe { libc::geteuid() } == 0;
            let missing = [
                ("/proc/self/ns/mnt", "mount namespaces"),
                ("/proc/self/ns/pid", "pid namespaces"),
                ("/proc/self/ns/net", "network namespaces"),
                ("/sys/fs/cgroup", "cgroups"),
            ]
            .iter()
            .find(|(p, _)| !Path::new(p).exists())
            .map(|(_, what)| what.to_string())
            .or_else(|| {
                let fs = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
                (!fs.contains("overlay") && !Path::new("/sys/module/overlay").exists())
                    .then(|| "overlayfs".to_string())
            });
            (root, missing)
        };
        #[cfg(not(target_os = "linux"))]
        let (root, missing) = (false, Some("Linux".to_string()));
        Facts { root, missing }
    }
}

/// Reads `CTRACE_SIM` (`1`/`true`: simulate, `0`/`false`: real).
pub fn ask_from_env(value: Option<&str>) -> Result<Ask, String> {
    match value.map(str::trim) {
        None | Some("") => Ok(Ask::Auto),
        Some("1" | "true" | "yes") => Ok(Ask::Sim),
        Some("0" | "false" | "no") => Ok(Ask::Real),
        Some(other) => Err(format!(
            "invalid {SIM_ENV}={other:?}: use 1 to simulate or 0 for real containers"
        )),
    }
}

/// Chooses: an explicit ask wins; `Auto` simulates where a real run cannot work.
pub fn choose(ask: Ask, facts: &Facts) -> Result<Choice, String> {
    match ask {
        Ask::Sim => Ok(Choice::Sim { why: None }),
        Ask::Real => match (&facts.missing, facts.root) {
            (Some(m), _) => Err(format!(
                "this host has no {m}: real containers cannot run here; drop --real to simulate"
            )),
            (None, false) => Err(
                "real containers need root: run as root (sudo ctrace …), or drop --real to simulate"
                    .to_string(),
            ),
            (None, true) => Ok(Choice::Real),
        },
        Ask::Auto => Ok(match (&facts.missing, facts.root) {
            (Some(m), _) => Choice::Sim {
                why: Some(format!(
                    "no {m} here: simulating; run on Linux as root for real containers"
                )),
            },
            (None, false) => Choice::Sim {
                why: Some("no root here: simulating; run as root for real containers".to_string()),
            },
            (None, true) => Choice::Real,
        }),
    }
}

/// The simulator's directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dirs {
    pub base: PathBuf,
    /// The engine's volatile directory (see [`Dirs::exec_root`]).
    run: PathBuf,
}

impl Dirs {
    /// From the environment: `CTRACE_SIM_DIR`, else the XDG data directory, else
    /// `~/.local/share/ctrace/sim` (for root too: never a real engine's root).
    ///
    /// The volatile directory is `$XDG_RUNTIME_DIR/ctrace-sim/<key>` when the runtime directory
    /// is set (the key is a hash of the simulator's directory, so two of them never share one),
    /// else `run/` in the simulator's directory.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Dirs, String> {
        let base = if let Some(d) = get("CTRACE_SIM_DIR").filter(|d| !d.is_empty()) {
            PathBuf::from(d)
        } else if let Some(x) = get("XDG_DATA_HOME").filter(|d| d.starts_with('/')) {
            Path::new(&x).join("ctrace/sim")
        } else if let Some(h) = get("HOME").filter(|d| d.starts_with('/') && d != "/") {
            Path::new(&h).join(".local/share/ctrace/sim")
        } else {
            return Err(
                "no place for the simulator's state: set HOME, XDG_DATA_HOME or CTRACE_SIM_DIR"
                    .into(),
            );
        };
        let run = match get("XDG_RUNTIME_DIR").filter(|d| d.starts_with('/')) {
            Some(r) => Path::new(&r)
                .join("ctrace-sim")
                .join(format!("{:016x}", key(&base))),
            None => base.join("run"),
        };
        Ok(Dirs { base, run })
    }

    /// The engine root (containers, images, volumes, traces).
    pub fn root(&self) -> PathBuf {
        self.base.join("root")
    }
    /// The engine's volatile directory (bundles, sockets, fifos, netns files).
    pub fn exec_root(&self) -> PathBuf {
        self.run.clone()
    }
    /// The modelled host.
    pub fn host(&self) -> PathBuf {
        self.base.join("host")
    }
}

/// FNV-1a of `dir`'s bytes: a stable name for it (the same in every process and every release).
fn key(dir: &Path) -> u64 {
    dir.as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT_LINUX: Facts = Facts {
        root: true,
        missing: None,
    };

    #[test]
    fn without_root_the_simulator_is_chosen_and_says_why() {
        let user = Facts {
            root: false,
            missing: None,
        };
        assert_eq!(
            choose(Ask::Auto, &user).unwrap(),
            Choice::Sim {
                why: Some("no root here: simulating; run as root for real containers".into())
            }
        );
        assert!(choose(Ask::Real, &user).unwrap_err().contains("need root"));
        assert_eq!(choose(Ask::Auto, &ROOT_LINUX).unwrap(), Choice::Real);
        assert_eq!(
            choose(Ask::Sim, &ROOT_LINUX).unwrap(),
            Choice::Sim { why: None }
        );
        let mac = Facts {
            root: false,
            missing: Some("Linux".into()),
        };
        assert!(choose(Ask::Real, &mac).unwrap_err().contains("no Linux"));
    }

    #[test]
    fn the_environment_variable_is_read_strictly() {
        assert_eq!(ask_from_env(Some("1")).unwrap(), Ask::Sim);
        assert_eq!(ask_from_env(Some("0")).unwrap(), Ask::Real);
        assert_eq!(ask_from_env(None).unwrap(), Ask::Auto);
        assert!(ask_from_env(Some("maybe"))
            .unwrap_err()
            .contains("CTRACE_SIM"));
    }

    #[test]
    fn state_goes_to_the_xdg_data_dir_and_never_to_the_real_root_for_a_user() {
        let env = |k: &str| match k {
            "HOME" => Some("/home/ada".to_string()),
            _ => None,
        };
        let d = Dirs::from_env(env).unwrap();
        assert_eq!(
            d.root(),
            Path::new("/home/ada/.local/share/ctrace/sim/root")
        );
        let xdg = |k: &str| (k == "XDG_DATA_HOME").then(|| "/x".to_string());
        assert_eq!(
            Dirs::from_env(xdg).unwrap().base,
            Path::new("/x/ctrace/sim")
        );
        assert!(Dirs::from_env(|_| None).is_err());
    }

    #[test]
    fn volatile_files_go_to_the_runtime_directory_one_per_simulator_directory() {
        let env = |dir: &'static str, runtime: Option<&'static str>| {
            move |k: &str| match k {
                "CTRACE_SIM_DIR" => Some(dir.to_string()),
                "XDG_RUNTIME_DIR" => runtime.map(str::to_string),
                _ => None,
            }
        };
        let a = Dirs::from_env(env("/home/ada/sim", Some("/run/user/1000"))).unwrap();
        let b = Dirs::from_env(env("/home/ada/other", Some("/run/user/1000"))).unwrap();
        assert!(a.exec_root().starts_with("/run/user/1000/ctrace-sim"));
        assert_ne!(a.exec_root(), b.exec_root());
        assert_eq!(
            a,
            Dirs::from_env(env("/home/ada/sim", Some("/run/user/1000"))).unwrap(),
            "the same directory, the same volatile directory"
        );
        assert_eq!(
            Dirs::from_env(env("/home/ada/sim", None))
                .unwrap()
                .exec_root(),
            Path::new("/home/ada/sim/run")
        );
    }
}
