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

    let all: HashSet<Capability> = DEFAULT_CAPABILITIES.into_iter().collect();
    let mut caps = LinuxCapabilities::default();
    caps.set_bounding(Some(all.clone()));
    // moby `oci.SetCapabilities`: a non-root user gets the bounding set only, "to match what
    // execve does" — a non-root process has no effective capabilities after exec anyway.
    let root = input.user.uid == 0;
    caps.set_effective(root.then(|| all.clone()));
    caps.set_permitted(root.then_some(all));
    caps.set_inheritable(None);
    caps.set_ambient(None);

    let nofile = PosixRlimitBuilder::default()
        .typ(PosixRlimitType::RlimitNofile)
        .hard(host.nofile)
        .soft(host.nofile)
        .build()?;

    let mut p = Process::default();
    p.set_terminal(Some(false));
    p.set_console_size(None);
    p.set_user(user);
    p.set_args(Some(input.args.clone()));
    p.set_env(Some(daemon_environment(&input.hostname, &input.env)));
    p.set_cwd(cwd.into());
    p.set_capabilities(Some(caps));
    p.set_rlimits(Some(vec![nofile]));
    p.set_no_new_privileges(Some(true));
    p.set_apparmor_profile(None);
    p.set_selinux_label(None);
    p.set_oom_score_adj(Some(0));
    Ok(p)
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
