//! Docker's seccomp profile format (moby `profiles/seccomp`), and its conversion into the OCI
//! `linux.seccomp` of one container — moby's `setupSeccomp`: rules whose `includes` (caps,
//! arches, minKernel) do not hold, or whose `excludes` do, are left out; `archMap` becomes the
//! native architecture and its sub-architectures.
//!
//! Not here: compiling the result into BPF ([`super::compile`]).

use serde::Deserialize;
use serde_json::{json, Value};

use super::SeccompError;

/// A profile in Docker's format (a superset of the OCI one).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub default_action: String,
    #[serde(default)]
    pub default_errno_ret: Option<u32>,
    #[serde(default)]
    pub architectures: Vec<String>,
    #[serde(default)]
    pub arch_map: Vec<ArchMap>,
    #[serde(default)]
    pub flags: Vec<String>,
    #[serde(default)]
    pub syscalls: Vec<Rule>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMap {
    pub architecture: String,
    #[serde(default)]
    pub sub_architectures: Option<Vec<String>>,
}

/// One entry of `syscalls`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub names: Vec<String>,
    pub action: String,
    #[serde(default)]
    pub errno_ret: Option<u32>,
    #[serde(default)]
    pub args: Option<Vec<Value>>,
    #[serde(default)]
    pub includes: Option<Filter>,
    #[serde(default)]
    pub excludes: Option<Filter>,
}

/// `includes` / `excludes`: when a rule applies.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    #[serde(default)]
    pub arches: Vec<String>,
    #[serde(default)]
    pub caps: Vec<String>,
    #[serde(default)]
    pub min_kernel: Option<String>,
}

/// What decides which rules apply to one container.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    /// Go's name of the architecture (`amd64`), as `includes.arches` names it.
    pub go_arch: &'a str,
    /// libseccomp's (`SCMP_ARCH_X86_64`), as `archMap` names it.
    pub scmp_arch: &'a str,
    /// The container's bounding set, `CAP_` names.
    pub caps: &'a [String],
    /// The kernel's `major.minor`.
    pub kernel: (u32, u32),
}

impl Profile {
    /// Reads a profile in Docker's JSON format.
    pub fn parse(json: &str) -> Result<Profile, SeccompError> {
        let p: Profile =
            serde_json::from_str(json).map_err(|e| SeccompError::Profile(e.to_string()))?;
        if !p.architectures.is_empty() && !p.arch_map.is_empty() {
            return Err(SeccompError::Profile(
                "both 'architectures' and 'archMap' are specified: keep one".into(),
            ));
        }
        for r in &p.syscalls {
            if !r.name.is_empty() && !r.names.is_empty() {
                return Err(SeccompError::Profile(format!(
                    "rule for {:?} has both 'name' and 'names': keep one",
                    r.name
                )));
            }
        }
        Ok(p)
    }

    /// The OCI `linux.seccomp` (as JSON) for `target`: moby's `setupSeccomp`.
    pub fn to_oci(&self, target: &Target<'_>) -> Value {
        let architectures: Vec<String> = if self.arch_map.is_empty() {
            self.architectures.clone()
        } else {
            self.arch_map
                .iter()
                .filter(|a| a.architecture == target.scmp_arch)
                .flat_map(|a| {
                    std::iter::once(a.architecture.clone())
                        .chain(a.sub_architectures.iter().flatten().cloned())
                })
                .collect()
        };
        let has_cap = |c: &String| target.caps.iter().any(|have| have == c);
        let at_least = |v: &Option<String>| v.as_deref().map(|v| kernel_at_least(target.kernel, v));
        let syscalls: Vec<Value> = self
            .syscalls
            .iter()
            .filter(|r| {
                if let Some(x) = &r.excludes {
                    if x.arches.iter().any(|a| a == target.go_arch)
                        || x.caps.iter().any(has_cap)
                        || at_least(&x.min_kernel) == Some(true)
                    {
                        return false;
                    }
                }
                if let Some(i) = &r.includes {
                    if (!i.arches.is_empty() && !i.arches.iter().any(|a| a == target.go_arch))
                        || !i.caps.iter().all(has_cap)
                        || at_least(&i.min_kernel) == Some(false)
                    {
                        return false;
                    }
                }
                true
            })
            .map(|r| {
                let names = if r.name.is_empty() {
                    r.names.clone()
                } else {
                    vec![r.name.clone()]
                };
                let mut v = json!({ "names": names, "action": r.action });
                if let Some(e) = r.errno_ret {
                    v["errnoRet"] = json!(e);
                }
                if let Some(a) = &r.args {
                    v["args"] = json!(a);
                }
                v
            })
            .collect();
        let mut v = json!({
            "defaultAction": self.default_action,
            "architectures": architectures,
            "syscalls": syscalls,
        });
        if let Some(e) = self.default_errno_ret {
            v["defaultErrnoRet"] = json!(e);
        }
        if !self.flags.is_empty() {
            v["flags"] = json!(self.flags);
        }
        v
    }
}

/// `kernel >= "major.minor"`; an unreadable version counts as met.
fn kernel_at_least(kernel: (u32, u32), version: &str) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let want = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    kernel >= want
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(caps: &[String]) -> Target<'_> {
        Target {
            go_arch: "amd64",
            scmp_arch: "SCMP_ARCH_X86_64",
            caps,
            kernel: (6, 1),
        }
    }

    fn allowed(v: &Value) -> Vec<String> {
        v["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["action"] == "SCMP_ACT_ALLOW" && r.get("args").is_none())
            .flat_map(|r| r["names"].as_array().unwrap().clone())
            .map(|n| n.as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn the_default_profile_allows_namespace_calls_only_with_cap_sys_admin() {
        let p = Profile::parse(super::super::DEFAULT_PROFILE).unwrap();
        let plain = p.to_oci(&target(&["CAP_CHOWN".to_string()]));
        assert_eq!(plain["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(plain["defaultErrnoRet"], 1);
        assert_eq!(
            plain["architectures"],
            json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
        );
        let names = allowed(&plain);
        for call in ["read", "arch_prctl", "ptrace"] {
            assert!(names.iter().any(|n| n == call), "{call} not allowed");
        }
        for call in [
            "unshare",
            "mount",
            "setns",
            "keyctl",
            "add_key",
            "perf_event_open",
        ] {
            assert!(!names.iter().any(|n| n == call), "{call} allowed");
        }
        // clone only without CLONE_NEW* flags, clone3 answered ENOSYS.
        let rules = plain["syscalls"].as_array().unwrap();
        assert!(rules
            .iter()
            .any(|r| r["names"] == json!(["clone"]) && r["args"][0]["op"] == "SCMP_CMP_MASKED_EQ"));
        assert!(rules
            .iter()
            .any(|r| r["names"] == json!(["clone3"]) && r["errnoRet"] == 38));

        let admin = p.to_oci(&target(&["CAP_SYS_ADMIN".to_string()]));
        let names = allowed(&admin);
        for call in ["unshare", "mount", "setns", "clone"] {
            assert!(names.iter().any(|n| n == call), "{call} not allowed");
        }
        assert!(!admin["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["names"] == json!(["clone3"])));
    }

    #[test]
    fn profiles_that_contradict_themselves_are_refused() {
        let e = Profile::parse(r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],"archMap":[{"architecture":"SCMP_ARCH_X86_64"}]}"#)
            .unwrap_err();
        assert!(
            e.to_string().contains("both 'architectures' and 'archMap'"),
            "{e}"
        );
        assert!(Profile::parse("{").is_err());
        assert!(kernel_at_least((4, 8), "4.8") && !kernel_at_least((4, 7), "4.8"));
    }
}
