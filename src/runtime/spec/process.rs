//! The spec's process: args, environment, user, capabilities, rlimits.

use std::collections::HashSet;

use oci_spec::runtime::{LinuxCapabilities, PosixRlimitBuilder, PosixRlimitType, Process, User};

use super::*;

/// `process`: command, environment, user, capabilities, rlimits, `no_new_privs`.
pub(super) fn process(
    input: &SpecInput,
    cwd: &str,
    host: &HostFacts,
) -> Result<Process, SpecError> {
    let mut user = User::default();
    user.set_uid(input.user.uid);
    user.set_gid(input.user.gid);
    user.set_additional_gids(
        (!input.user.additional_gids.is_empty()).then(|| input.user.additional_gids.clone()),
    );

    let all = capabilities(&input.cap_add, &input.cap_drop);
    let mut caps = LinuxCapabilities::default();
    caps.set_bounding(Some(all.clone()));
    // moby `oci.SetCapabilities`: a non-root user gets the bounding set only, "to match what
    // execve does" — a non-root process has no effective capabilities after exec anyway.
    let root = input.user.uid == 0;
    caps.set_effective(root.then(|| all.clone()));
    caps.set_permitted(root.then_some(all));
    caps.set_inheritable(None);
    caps.set_ambient(None);

    let mut rlimits = Vec::new();
    if !input.ulimits.iter().any(|(name, _, _)| name == "nofile") {
        rlimits.push(
            PosixRlimitBuilder::default()
                .typ(PosixRlimitType::RlimitNofile)
                .hard(host.nofile)
                .soft(host.nofile)
                .build()?,
        );
    }
    for (name, soft, hard) in &input.ulimits {
        let typ: PosixRlimitType =
            serde_json::from_value(serde_json::json!(format!("RLIMIT_{}", name.to_uppercase())))
                .map_err(|_| SpecError::Ulimit(name.clone()))?;
        // -1 is RLIM_INFINITY.
        rlimits.push(
            PosixRlimitBuilder::default()
                .typ(typ)
                .soft(*soft as u64)
                .hard(*hard as u64)
                .build()?,
        );
    }

    let mut p = Process::default();
    p.set_terminal(Some(false));
    p.set_console_size(None);
    p.set_user(user);
    p.set_args(Some(input.args.clone()));
    p.set_env(Some(daemon_environment(&input.hostname, &input.env)));
    p.set_cwd(cwd.into());
    p.set_capabilities(Some(caps));
    p.set_rlimits(Some(rlimits));
    p.set_no_new_privileges(Some(true));
    p.set_apparmor_profile(None);
    p.set_selinux_label(None);
    p.set_oom_score_adj(Some(0));
    Ok(p)
}

/// The bounding set: docker's default 14, tweaked by `--cap-add`/`--cap-drop` as moby's
/// `caps.TweakCapabilities` does (`--cap-add ALL`: every capability but the dropped ones;
/// `--cap-drop ALL`: only the added ones).
fn capabilities(add: &[String], drop: &[String]) -> HashSet<Capability> {
    let parse = |name: &str| serde_json::from_value::<Capability>(serde_json::json!(name)).ok();
    let every = || {
        let mut all: Vec<String> = crate::sys::capability::NAMES
            .iter()
            .map(|c| c.to_string())
            .collect();
        all.sort();
        all
    };
    let all_named = |v: &[String]| v.iter().any(|c| c == "ALL");
    let names: Vec<String> = if all_named(add) {
        every().into_iter().filter(|c| !drop.contains(c)).collect()
    } else if all_named(drop) {
        add.to_vec()
    } else {
        DEFAULT_CAPABILITIES
            .iter()
            .filter_map(|c| serde_json::to_value(c).ok()?.as_str().map(String::from))
            .filter(|c| !drop.contains(c))
            .chain(add.iter().cloned())
            .collect()
    };
    names.iter().filter_map(|n| parse(n)).collect()
}

/// moby `Container.CreateDaemonEnvironment`: `PATH` and `HOSTNAME` first, then the container's
/// own variables replacing or adding (`ReplaceOrAppendEnvValues`; `NAME` without `=` unsets).
pub(super) fn daemon_environment(hostname: &str, env: &[String]) -> Vec<String> {
    let mut out: Vec<Option<String>> = vec![
        Some(DEFAULT_PATH_ENV.to_string()),
        Some(format!("HOSTNAME={hostname}")),
    ];
    let mut defaults: HashMap<String, usize> = HashMap::new();
    for (i, e) in out.iter().enumerate() {
        if let Some(e) = e {
            defaults.insert(e.split('=').next().unwrap_or_default().to_string(), i);
        }
    }
    for value in env {
        match value.split_once('=') {
            None => {
                if let Some(&i) = defaults.get(value.as_str()) {
                    out[i] = None;
                }
            }
            Some((key, _)) => match defaults.get(key) {
                Some(&i) => out[i] = Some(value.clone()),
                None => out.push(Some(value.clone())),
            },
        }
    }
    out.into_iter().flatten().collect()
}
