//! Seccomp: which system calls a container's process may make.
//!
//! One source, data: Docker's default profile, kept in Docker's profile format in
//! `default.json` beside this file (the allow-list of moby's `profiles/seccomp/default.json`,
//! Apache-2.0 like ctrace): everything not listed fails with `EPERM`; the calls that act on
//! namespaces, mounts, the kernel's keyring, modules, the clock or tracing are allowed only to
//! a container that has the capability they need (`includes.caps`); `clone` only without
//! `CLONE_NEW*` flags, `personality` only with the harmless values.
//!
//! - [`parse_security_opt`]: `--security-opt` / `HostConfig.SecurityOpt` (`seccomp=unconfined`,
//!   `seccomp=<profile JSON>`, `no-new-privileges`), checked once where flags are read;
//! - [`for_spec`]: the profile turned into the OCI `linux.seccomp` of one container (moby's
//!   `setupSeccomp`, [`profile`]), written into `config.json` — runc reads it from there;
//! - [`compile`]: that section compiled into a BPF program with libseccomp (runc's
//!   `InitSeccomp`); the embedded init loads it through the host (`init.seccomp`).
//!
//! Why libseccomp: the profile names system calls, and only libseccomp knows each name's number
//! on each architecture (and the x32/x86 sub-architectures a filter must also cover); it is
//! what runc, crun and youki use, so a profile means what it means under Docker.
//!
//! Not here: loading the program (the `Host` seam's `seccomp_load`), or AppArmor (ctrace loads
//! no AppArmor profile).

#[cfg(target_os = "linux")]
use std::io::{Read, Seek};
use std::path::Path;
#[cfg(target_os = "linux")]
use std::str::FromStr;

#[cfg(target_os = "linux")]
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::LinuxSeccomp;
use serde::Deserialize;

pub mod profile;

pub use profile::Profile;

/// Docker's default profile, in Docker's format.
pub const DEFAULT_PROFILE: &str = include_str!("default.json");

/// Why a profile could not be used.
#[derive(Debug, thiserror::Error)]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub enum SeccompError {
    #[error("invalid seccomp profile: {0}")]
    Profile(String),
    #[error("cannot compile the seccomp profile: {0}")]
    Compile(String),
}

/// Which filter a container gets (`--security-opt seccomp=…`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Choice {
    /// Docker's default profile.
    #[default]
    Default,
    /// `seccomp=unconfined`: no filter.
    Unconfined,
    /// `seccomp=<profile JSON>`, in Docker's format.
    Profile(String),
}

/// `--security-opt` values, understood.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityOpts {
    pub seccomp: Choice,
    /// `no-new-privileges` was given (ctrace sets `no_new_privs` on every container anyway).
    pub no_new_privileges: bool,
}

/// Reads `--security-opt` values as the API carries them: `seccomp=unconfined`,
/// `seccomp=builtin`, `seccomp=<profile JSON>` (the CLI reads a file's content into the value,
/// as docker's CLI does), `no-new-privileges[=true]` (`:` works as `=`). Anything else is
/// refused with the reason. Called where flags are read and again at start, on the stored words.
pub fn parse_security_opt(values: &[String]) -> Result<SecurityOpts, String> {
    let mut opts = SecurityOpts::default();
    for v in values {
        let (key, value) = match v.split_once(['=', ':']) {
            Some((k, val)) => (k, Some(val)),
            None => (v.as_str(), None),
        };
        match (key, value) {
            ("no-new-privileges", None | Some("true")) => opts.no_new_privileges = true,
            ("no-new-privileges", Some("false")) => {
                return Err("--security-opt no-new-privileges=false is not supported: ctrace sets no_new_privs on every container (its seccomp filter is loaded after the capabilities are dropped)".into())
            }
            ("seccomp", Some("unconfined")) => opts.seccomp = Choice::Unconfined,
            ("seccomp", Some("builtin" | "")) => opts.seccomp = Choice::Default,
            ("seccomp", Some(json)) => {
                Profile::parse(json).map_err(|e| format!("--security-opt seccomp: {e}"))?;
                opts.seccomp = Choice::Profile(json.to_string());
            }
            ("apparmor", Some("unconfined")) => {}
            _ => {
                return Err(format!(
                    "invalid --security-opt {:?}: ctrace supports seccomp=unconfined, seccomp=PROFILE.json and no-new-privileges",
                    shorten(v)
                ))
            }
        }
    }
    Ok(opts)
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s.to_string()
    }
}

/// The OCI `linux.seccomp` for a container whose bounding set is `caps` (`CAP_` names), or
/// `None` when it runs unconfined.
pub fn for_spec(choice: &Choice, caps: &[String]) -> Result<Option<LinuxSeccomp>, SeccompError> {
    let json = match choice {
        Choice::Unconfined => return Ok(None),
        Choice::Default => DEFAULT_PROFILE,
        Choice::Profile(p) => p.as_str(),
    };
    let profile = Profile::parse(json)?;
    let uname = nix::sys::utsname::uname().ok();
    let release = uname
        .as_ref()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut parts = release
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let kernel = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    let target = profile::Target {
        go_arch: crate::sys::arch::go_arch(),
        scmp_arch: scmp_arch_name(),
        caps,
        kernel,
    };
    serde_json::from_value(profile.to_oci(&target))
        .map(Some)
        .map_err(|e| SeccompError::Profile(e.to_string()))
}

/// libseccomp's name of this machine's architecture.
fn scmp_arch_name() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "SCMP_ARCH_X86_64",
        "x86" => "SCMP_ARCH_X86",
        "aarch64" => "SCMP_ARCH_AARCH64",
        "arm" => "SCMP_ARCH_ARM",
        "riscv64" => "SCMP_ARCH_RISCV64",
        "s390x" => "SCMP_ARCH_S390X",
        "powerpc64" => "SCMP_ARCH_PPC64LE",
        _ => "SCMP_ARCH_NATIVE",
    }
}

/// A compiled filter: the BPF program (`struct sock_filter` array) and how many system calls
/// it lets through on this architecture (some only with the arguments the profile names).
#[derive(Debug, Clone)]
pub struct Filter {
    pub bpf: Vec<u8>,
    pub allowed: usize,
}

/// The OCI section as plain strings, read back through serde.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
struct Section {
    default_action: String,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    #[serde(default)]
    architectures: Option<Vec<String>>,
    #[serde(default)]
    syscalls: Option<Vec<Syscall>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
struct Syscall {
    names: Vec<String>,
    action: String,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Option<Vec<Arg>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
struct Arg {
    index: u32,
    value: u64,
    #[serde(default)]
    value_two: u64,
    op: String,
}

#[cfg(target_os = "linux")]
fn action(name: &str, errno: Option<u32>) -> Result<ScmpAction, SeccompError> {
    let errno = errno.map_or(libc::EPERM, |e| e as i32);
    ScmpAction::from_str(name, Some(errno))
        .map_err(|e| SeccompError::Profile(format!("unknown action {name:?}: {e}")))
}

/// libseccomp's `SCMP_FLTATR_CTL_OPTIMIZE` for every filter: 2, a binary tree ([`compile`]).
#[cfg(target_os = "linux")]
const LAYOUT: u32 = 2;

#[cfg(target_os = "linux")]
/// Compiles an OCI `linux.seccomp` into BPF, as runc's `InitSeccomp` does: rules whose action
/// is the default one are skipped, names this architecture does not have are skipped, several
/// conditions on one argument become one rule each. libseccomp is told not to set
/// `no_new_privs` itself: the spec decides that.
///
/// The program is laid out as a binary tree of system call numbers (libseccomp's
/// `SCMP_FLTATR_CTL_OPTIMIZE=2`), not libseccomp's default chain of comparisons: the same
/// decisions, a quarter more instructions, but loading it costs the kernel a quarter of the time
/// (on every load, since Linux 5.11, the kernel runs the filter once for every system call number
/// of the native and compat architectures to cache the ones always allowed; through a chain each
/// run walks hundreds of comparisons, through the tree a dozen). See
/// `bench/results/2026-12-03-seccomp-2.md`.
pub fn compile(seccomp: &LinuxSeccomp) -> Result<Filter, SeccompError> {
    compile_as(seccomp, LAYOUT)
}

#[cfg(target_os = "linux")]
/// [`compile`] with libseccomp's `SCMP_FLTATR_CTL_OPTIMIZE` set to `layout`.
fn compile_as(seccomp: &LinuxSeccomp, layout: u32) -> Result<Filter, SeccompError> {
    let section: Section = serde_json::to_value(seccomp)
        .and_then(serde_json::from_value)
        .map_err(|e| SeccompError::Profile(e.to_string()))?;
    let c = |e: libseccomp::error::SeccompError| SeccompError::Compile(e.to_string());
    let default = action(&section.default_action, section.default_errno_ret)?;
    let mut ctx = ScmpFilterContext::new(default).map_err(c)?;
    ctx.set_ctl_nnp(false).map_err(c)?;
    ctx.set_ctl_optimize(layout).map_err(c)?;
    for a in section.architectures.iter().flatten() {
        let arch = ScmpArch::from_str(a)
            .map_err(|_| SeccompError::Profile(format!("unknown architecture {a:?}")))?;
        if !ctx.is_arch_present(arch).map_err(c)? {
            ctx.add_arch(arch).map_err(c)?;
        }
    }
    let mut allowed = std::collections::BTreeSet::new();
    for rule in section.syscalls.iter().flatten() {
        let act = action(&rule.action, rule.errno_ret.or(section.default_errno_ret))?;
        if act == default {
            continue;
        }
        let conditions = conditions(rule.args.as_deref().unwrap_or_default())?;
        for name in &rule.names {
            // A name this architecture lacks resolves to a negative pseudo number (libseccomp
            // keeps it for the sub-architectures) or not at all.
            let Ok(call) = ScmpSyscall::from_name(name) else {
                continue;
            };
            if conditions.is_empty() {
                ctx.add_rule(act, call).map_err(c)?;
            } else {
                for set in &conditions {
                    ctx.add_rule_conditional(act, call, set).map_err(c)?;
                }
            }
            if act == ScmpAction::Allow && call.as_raw_syscall() >= 0 {
                allowed.insert(name.clone());
            }
        }
    }
    Ok(Filter {
        bpf: export(&ctx)?,
        allowed: allowed.len(),
    })
}

#[cfg(target_os = "linux")]
/// [`compile`], once per distinct section: the program is kept in `cache` (a directory of the
/// engine's exec root) under the digest of the section, libseccomp's version and the program's
/// layout ([`LAYOUT`]), so a start
/// reads a few kilobytes instead of compiling again (libseccomp takes tens of milliseconds for
/// Docker's profile on three architectures). A damaged entry is compiled again.
pub fn compile_cached(seccomp: &LinuxSeccomp, cache: &Path) -> Result<Filter, SeccompError> {
    use sha2::{Digest, Sha256};
    let section = serde_json::to_vec(seccomp).map_err(|e| SeccompError::Profile(e.to_string()))?;
    let v = libseccomp::ScmpVersion::current().map_err(|e| SeccompError::Compile(e.to_string()))?;
    let mut h = Sha256::new();
    h.update(format!(
        "libseccomp {}.{}.{} optimize {LAYOUT}\n",
        v.major, v.minor, v.micro
    ));
    h.update(&section);
    let key: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let path = cache.join(format!("{key}.bpf"));
    if let Ok(bytes) = std::fs::read(&path) {
        if let Some((head, bpf)) = bytes.split_first_chunk::<8>() {
            if !bpf.is_empty() && bpf.len() % 8 == 0 {
                return Ok(Filter {
                    bpf: bpf.to_vec(),
                    allowed: u64::from_le_bytes(*head) as usize,
                });
            }
        }
    }
    let filter = compile(seccomp)?;
    let mut bytes = (filter.allowed as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(&filter.bpf);
    // A cache that cannot be written only costs the next start a compile.
    let _ = std::fs::create_dir_all(cache).and_then(|_| crate::sys::atomic::write(&path, &bytes));
    Ok(filter)
}

#[cfg(target_os = "linux")]
/// The conditions of one rule as libseccomp rules: one rule (all must hold) when each argument
/// is named once; when one argument is named several times, one rule per condition (runc's
/// reading: any of them).
fn conditions(args: &[Arg]) -> Result<Vec<Vec<ScmpArgCompare>>, SeccompError> {
    let compare = |a: &Arg| -> Result<ScmpArgCompare, SeccompError> {
        let op = match a.op.as_str() {
            "SCMP_CMP_MASKED_EQ" => ScmpCompareOp::MaskedEqual(a.value),
            other => ScmpCompareOp::from_str(other)
                .map_err(|_| SeccompError::Profile(format!("unknown operator {other:?}")))?,
        };
        let datum = if matches!(op, ScmpCompareOp::MaskedEqual(_)) {
            a.value_two
        } else {
            a.value
        };
        Ok(ScmpArgCompare::new(a.index, op, datum))
    };
    if args.is_empty() {
        return Ok(Vec::new());
    }
    let mut indexes: Vec<u32> = args.iter().map(|a| a.index).collect();
    indexes.sort_unstable();
    let repeated = indexes.windows(2).any(|w| w[0] == w[1]);
    if repeated {
        args.iter().map(|a| Ok(vec![compare(a)?])).collect()
    } else {
        Ok(vec![args.iter().map(compare).collect::<Result<_, _>>()?])
    }
}

#[cfg(target_os = "linux")]
/// The filter's BPF, through a memory file (libseccomp 2.5 exports to a descriptor only).
fn export(ctx: &ScmpFilterContext) -> Result<Vec<u8>, SeccompError> {
    let io = |e: std::io::Error| SeccompError::Compile(format!("cannot export the filter: {e}"));
    // SAFETY: a plain syscall with a NUL-terminated name.
    let fd = unsafe { libc::memfd_create(c"seccomp-bpf".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io(std::io::Error::last_os_error()));
    }
    // SAFETY: the kernel just gave us this descriptor; nobody else owns it.
    let mut file = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    ctx.export_bpf(&file)
        .map_err(|e| SeccompError::Compile(e.to_string()))?;
    file.rewind().map_err(io)?;
    let mut bpf = Vec::new();
    file.read_to_end(&mut bpf).map_err(io)?;
    Ok(bpf)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn caps() -> Vec<String> {
        crate::runtime::spec::DEFAULT_CAPABILITIES
            .iter()
            .map(|c| {
                serde_json::to_value(c)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn the_default_profile_compiles_to_a_filter_of_some_three_hundred_calls() {
        let s = for_spec(&Choice::Default, &caps()).unwrap().unwrap();
        let f = compile(&s).unwrap();
        assert!(f.bpf.len() % 8 == 0 && !f.bpf.is_empty());
        assert!((250..400).contains(&f.allowed), "{}", f.allowed);
        assert!(for_spec(&Choice::Unconfined, &caps()).unwrap().is_none());
    }

    #[test]
    fn security_opts_read_dockers_words_and_refuse_the_rest() {
        let o =
            |v: &[&str]| parse_security_opt(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            o(&["seccomp=unconfined"]).unwrap().seccomp,
            Choice::Unconfined
        );
        assert_eq!(
            o(&["seccomp:unconfined"]).unwrap().seccomp,
            Choice::Unconfined
        );
        assert!(o(&["no-new-privileges"]).unwrap().no_new_privileges);
        assert!(o(&["no-new-privileges:true"]).unwrap().no_new_privileges);
        let json = r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#;
        assert_eq!(
            o(&[&format!("seccomp={json}")]).unwrap().seccomp,
            Choice::Profile(json.into())
        );
        assert!(o(&["seccomp={"])
            .unwrap_err()
            .contains("invalid seccomp profile"));
        assert!(o(&["label=disable"])
            .unwrap_err()
            .contains("invalid --security-opt"));
        assert!(o(&["no-new-privileges=false"])
            .unwrap_err()
            .contains("not supported"));
    }

    /// Runs a classic BPF program over one `struct seccomp_data` (nr, arch, ip, args) as the
    /// kernel does, returning the action it decides.
    fn run(bpf: &[u8], nr: u32, arch: u32, ip: u64, args: [u64; 6]) -> u32 {
        let mut data = Vec::with_capacity(64);
        data.extend_from_slice(&nr.to_ne_bytes());
        data.extend_from_slice(&arch.to_ne_bytes());
        data.extend_from_slice(&ip.to_ne_bytes());
        for a in args {
            data.extend_from_slice(&a.to_ne_bytes());
        }
        let prog: Vec<(u16, u8, u8, u32)> = bpf
            .chunks_exact(8)
            .map(|i| {
                let code = u16::from_ne_bytes([i[0], i[1]]);
                (
                    code,
                    i[2],
                    i[3],
                    u32::from_ne_bytes([i[4], i[5], i[6], i[7]]),
                )
            })
            .collect();
        let (mut a, mut x, mut mem, mut pc) = (0u32, 0u32, [0u32; 16], 0usize);
        loop {
            let (code, jt, jf, k) = prog[pc];
            pc += 1;
            let src = if code & 0x08 != 0 { x } else { k };
            let jump = |taken: bool| if taken { jt as usize } else { jf as usize };
            match code {
                0x20 => {
                    let k = k as usize;
                    a = u32::from_ne_bytes(data[k..k + 4].try_into().unwrap());
                }
                0x00 => a = k,
                0x01 => x = k,
                0x60 => a = mem[k as usize],
                0x61 => x = mem[k as usize],
                0x02 => mem[k as usize] = a,
                0x03 => mem[k as usize] = x,
                0x07 => x = a,
                0x87 => a = x,
                0x06 => return k,
                0x16 => return a,
                0x05 => pc += k as usize,
                c if c & 0x07 == 0x05 => {
                    pc += match c & 0xf0 {
                        0x10 => jump(a == src),
                        0x20 => jump(a > src),
                        0x30 => jump(a >= src),
                        0x40 => jump(a & src != 0),
                        other => panic!("jump {other:#x} not modelled"),
                    }
                }
                c if c & 0x07 == 0x04 => {
                    a = match c & 0xf0 {
                        0x00 => a.wrapping_add(src),
                        0x10 => a.wrapping_sub(src),
                        0x40 => a | src,
                        0x50 => a & src,
                        0x60 => a.wrapping_shl(src),
                        0x70 => a.wrapping_shr(src),
                        0xa0 => a ^ src,
                        other => panic!("alu {other:#x} not modelled"),
                    }
                }
                other => panic!("instruction {other:#x} not modelled"),
            }
        }
    }

    /// A system call as a filter sees it: an architecture the filter knows (or not), a number
    /// near the real ones (x32's with its bit), and arguments that are often the values the
    /// profile's conditions name.
    fn call() -> impl proptest::strategy::Strategy<Value = (u32, u32, [u64; 6])> {
        use proptest::prelude::*;
        let arch = prop_oneof![
            Just(0xc000_003e_u32),
            Just(0x4000_0003),
            Just(0xc000_00b7),
            any::<u32>()
        ];
        let nr = prop_oneof![0u32..470, 0x4000_0000u32..0x4000_0240, any::<u32>()];
        let arg = prop_oneof![
            Just(0u64),
            Just(0x7e02_0000), // the CLONE_NEW* flags
            Just(0x1000_0000), // CLONE_NEWUSER
            Just(0x0008),      // PER_LINUX32
            Just(0xffff_ffff),
            0u64..0x10_0000,
            any::<u64>()
        ];
        (arch, nr, proptest::array::uniform6(arg))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        #[test]
        fn the_tree_layout_decides_every_call_as_the_chain_does((arch, nr, args) in call()) {
            use std::sync::OnceLock;
            static BOTH: OnceLock<(Filter, Filter)> = OnceLock::new();
            let (chain, tree) = BOTH.get_or_init(|| {
                let s = for_spec(&Choice::Default, &caps()).unwrap().unwrap();
                (compile_as(&s, 1).unwrap(), compile(&s).unwrap())
            });
            proptest::prop_assert_eq!(
                run(&chain.bpf, nr, arch, 0, args),
                run(&tree.bpf, nr, arch, 0, args)
            );
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn the_tree_layout_allows_and_refuses_what_the_profile_says() {
        let s = for_spec(&Choice::Default, &caps()).unwrap().unwrap();
        let tree = compile(&s).unwrap();
        let x86_64 = 0xc000_003e;
        let (allow, eperm) = (0x7fff_0000, 0x0005_0000 | libc::EPERM as u32);
        assert_eq!(
            run(&tree.bpf, libc::SYS_read as u32, x86_64, 0, [0; 6]),
            allow
        );
        assert_eq!(
            run(&tree.bpf, libc::SYS_add_key as u32, x86_64, 0, [0; 6]),
            eperm
        );
        let unshare = libc::SYS_unshare as u32;
        assert_eq!(
            run(&tree.bpf, unshare, x86_64, 0, [0x1000_0000, 0, 0, 0, 0, 0]),
            eperm
        );
    }
}

/// Where there is no Linux only the simulator runs, and no kernel loads a filter: the profile is
/// read as on Linux (what it allows is counted by name, without an architecture's table) and the
/// program is the one instruction `SECCOMP_RET_ALLOW`, which the simulated host records.
#[cfg(not(target_os = "linux"))]
pub fn compile(seccomp: &LinuxSeccomp) -> Result<Filter, SeccompError> {
    let section: Section = serde_json::to_value(seccomp)
        .and_then(serde_json::from_value)
        .map_err(|e| SeccompError::Profile(e.to_string()))?;
    let allowed: std::collections::BTreeSet<&String> = section
        .syscalls
        .iter()
        .flatten()
        .filter(|r| r.action == "SCMP_ACT_ALLOW" && r.action != section.default_action)
        .flat_map(|r| &r.names)
        .collect();
    // BPF_RET | BPF_K, SECCOMP_RET_ALLOW: struct sock_filter { code, jt, jf, k }.
    let mut bpf = vec![0x06, 0x00, 0x00, 0x00];
    bpf.extend_from_slice(&0x7fff_0000u32.to_le_bytes());
    Ok(Filter {
        bpf,
        allowed: allowed.len(),
    })
}

/// [`compile`]: nothing to cache where nothing is compiled.
#[cfg(not(target_os = "linux"))]
pub fn compile_cached(seccomp: &LinuxSeccomp, _cache: &Path) -> Result<Filter, SeccompError> {
    compile(seccomp)
}
