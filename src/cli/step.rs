//! `--step`: the terminal side of step mode. After each phase — the engine's, and with the
//! embedded runtime the shim's and the init's too (they wait on a gate, see
//! [`crate::phase::gate`]) — it prints the phase's lesson, what the phase did to this
//! container (its trace note; after `start.runtime.create` a recap of the shim's and the init's
//! phases), the commands to try from another terminal with the real paths and pids filled in, and
//! waits for one key: Enter goes on, `s` shows the live state on host, `q` (or Ctrl-C, Ctrl-D)
//! aborts and rolls back.
//!
//! Not here: runc's own steps (`runc create` is one black box to ctrace). Everything is written to
//! the terminal on stderr; the container's own output keeps stdout.

use std::io::{IsTerminal, Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::sys::termios::{self, LocalFlags, SetArg, SpecialCharacterIndices};

use crate::lessons;
use crate::phase::step::{Decision, Facts, Stepper};
use crate::runtime::cgroups::{Cgroup, Hierarchy};
use crate::state::Paths;
use crate::trace::format::SpanRecord;
use crate::trace::recorder;

use super::Failure;

/// The one-line refusal when stdin is not a terminal.
pub const NEEDS_TTY: &str =
    "--step needs an interactive terminal: run it from a terminal, or drop --step";

/// Turns step mode on, or refuses when stdin is not a terminal.
pub fn arm(paths: &Paths, bridge: &str, lang: &str) -> Result<(), Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure::new(crate::sys::exit::ENGINE, NEEDS_TTY));
    }
    crate::phase::step::arm(Box::new(Terminal {
        paths: paths.clone(),
        bridge: bridge.to_string(),
        lang: lang.to_string(),
        cli: cli_prefix(paths),
    }));
    Ok(())
}

/// `ctrace` with the roots this process uses, so the printed commands reach the same state.
fn cli_prefix(paths: &Paths) -> String {
    let mut s = "ctrace".to_string();
    if paths.root != Path::new("/var/lib/ctrace") {
        s += &format!(" --root {}", paths.root.display());
    }
    if paths.exec_root != Path::new("/run/ctrace") {
        s += &format!(" --exec-root {}", paths.exec_root.display());
    }
    s
}

struct Terminal {
    paths: Paths,
    bridge: String,
    lang: String,
    cli: String,
}

/// The words of the step screen, per language.
struct Words {
    did: &'static str,
    inside: &'static str,
    try_: &'static str,
    prompt: &'static str,
    live: &'static str,
    mounts: &'static str,
    ns_mounts: &'static str,
    network: &'static str,
    no_netns: &'static str,
    cgroup: &'static str,
    no_cgroup: &'static str,
    processes: &'static str,
    no_processes: &'static str,
    no_container: &'static str,
    quit: &'static str,
}

const EN: Words = Words {
    did: "what it did",
    inside: "recap: inside the shim and the container's init",
    try_: "try from another terminal",
    prompt: "[Enter] next phase · [s] show live state · [q] quit and roll back",
    live: "live state",
    mounts: "mounts on the host naming this container",
    ns_mounts: "mounts in the container's mount namespace",
    network: "network namespace",
    no_netns: "no network namespace of its own yet",
    cgroup: "cgroup",
    no_cgroup: "no cgroup yet (the shim creates it in runtime.cgroup)",
    processes: "processes",
    no_processes: "no shim or init yet (start.runtime.create starts them)",
    no_container: "no container yet (create.id makes its id)",
    quit: "quitting: rolling back what this command did",
};

const ZH: Words = Words {
    did: "这一步做了什么",
    inside: "回顾：shim 和容器 init 内部",
    try_: "在另一个终端里试试",
    prompt: "[回车] 下一阶段 · [s] 查看实时状态 · [q] 退出并回滚",
    live: "实时状态",
    mounts: "宿主机上与该容器有关的挂载",
    ns_mounts: "容器挂载命名空间里的挂载",
    network: "网络命名空间",
    no_netns: "还没有自己的网络命名空间",
    cgroup: "cgroup",
    no_cgroup: "还没有 cgroup（shim 在 runtime.cgroup 中创建）",
    processes: "进程",
    no_processes: "还没有 shim 和 init（由 start.runtime.create 启动）",
    no_container: "还没有容器（create.id 生成它的 id）",
    quit: "退出：回滚本命令所做的一切",
};

impl Terminal {
    fn words(&self) -> &'static Words {
        if self.lang.starts_with("zh") {
            &ZH
        } else {
            &EN
        }
    }

    fn screen(&self, phase: &str, facts: &Facts) -> String {
        let w = self.words();
        let mut out = String::new();
        let spans = recorder::finished();
        let done = spans.iter().rev().find(|s| s.name == phase);
        let took = done.map_or(String::new(), |s| format!(" · {}", ms(s.duration_ns)));
        out += &format!("\n━━ {phase}{took}\n");
        if let Some(l) = lessons::get(&self.lang, phase) {
            out += &format!("   {}\n   {}\n", l.title, l.summary);
            out += &format!(
                "   docker: {} ({}) · seed {}\n",
                l.docker, l.docker_file, l.seed
            );
        }
        if let Some(note) = done.and_then(|s| s.attr_str("note")) {
            out += &format!("{}:\n   {note}\n", w.did);
        }
        if let Some(e) = done.and_then(|s| s.attr_str("error")) {
            out += &format!("   error: {e}\n");
        }
        if phase == "start.runtime.create" {
            let mut inside: Vec<&SpanRecord> =
                spans.iter().filter(|s| s.process != "ctrace").collect();
            inside.sort_by_key(|s| s.start_unix_ns);
            if !inside.is_empty() {
                out += &format!("{}:\n", w.inside);
                for s in inside {
                    out += &format!(
                        "   {:<5} {:<16} {:>9}  {}\n",
                        s.process,
                        s.name,
                        ms(s.duration_ns),
                        s.attr_str("note").unwrap_or("")
                    );
                }
            }
        }
        let cmds = self.commands(phase, facts);
        if !cmds.is_empty() {
            out += &format!("{}:\n", w.try_);
            for c in cmds {
                out += &format!("   $ {c}\n");
            }
        }
        out
    }

    /// The commands that show what `phase` changed, with this container's paths and pids.
    fn commands(&self, phase: &str, facts: &Facts) -> Vec<String> {
        let p = &self.paths;
        let cli = &self.cli;
        // A simulated host is looked at through the simulator: the real tools see nothing.
        if crate::host::current().mode() == "sim" && facts.id.is_some() {
            let part = match phase {
                p if p.contains("network") => "network",
                p if p.contains("cgroup") || p == "start.verify" => "cgroups",
                p if p.contains("mount") || p.contains("pivot") => "mounts",
                "runtime.shim" | "runtime.clone" | "init.namespaces" | "init.process" => {
                    "processes"
                }
                _ => "all",
            };
            return vec![format!("{cli} sim host {part}"), format!("{cli} ps -a")];
        }
        let Some(id) = facts.id.as_deref() else {
            return match phase {
                "create.image.lookup" | "create.image.pull" => vec![format!("{cli} images")],
                _ => vec![format!("{cli} ps -a")],
            };
        };
        let netns = p.netns(id);
        let in_netns = |what: &str| format!("nsenter --net={} {what}", netns.display());
        let pids = || match (facts.shim_pid, facts.init_pid) {
            (Some(s), Some(i)) => format!("ps -o pid,ppid,stat,args -p {s},{i}"),
            _ => format!("{cli} ps -a"),
        };
        let cgroup = cgroup_dirs(id)
            .first()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|| format!("/sys/fs/cgroup/…/ctrace/{id}"));
        match phase {
            "create.id" => vec![format!("ls -l {}", p.names().display())],
            "create.network" | "create.mounts" | "create.config" => {
                vec![format!("{cli} volume ls")]
            }
            "create.rwlayer" => vec![format!("ls -la {}", p.container(id).display())],
            "create.register" => vec![
                format!("cat {}", p.config(id).display()),
                format!("cat {}", p.state(id).display()),
                format!("{cli} ps -a"),
            ],
            "start.lookup" | "start.validate" => vec![format!("cat {}", p.state(id).display())],
            "start.verify" => vec!["findmnt -t cgroup,cgroup2".into()],
            "start.lock" => vec![format!(
                "grep \":$(stat -c %i {}) \" /proc/locks",
                p.lock(id).display()
            )],
            "start.mount" => vec![
                format!("findmnt -R {}", p.rootfs(id).display()),
                format!("ls {}", p.rootfs(id).display()),
                format!("ls {}", p.upper(id).display()),
            ],
            "start.network.init" => {
                vec![format!("findmnt {}", netns.display()), in_netns("ip addr")]
            }
            "start.mounts.setup" => vec![format!(
                "cat {} {} {}",
                p.etc_file(id, "hostname").display(),
                p.etc_file(id, "hosts").display(),
                p.etc_file(id, "resolv.conf").display()
            )],
            "start.spec" => vec![
                format!("cat {}", p.bundle(id).join("config.json").display()),
                format!("ls -l {}", p.exec_fifo(id).display()),
            ],
            "start.runtime.options" => vec![format!("ls -l {}", p.bundle(id).display())],
            "runtime.cgroup" => vec![
                format!("ls {cgroup}"),
                format!("cat {cgroup}/cgroup.procs     # empty: the init is cloned next"),
            ],
            "runtime.clone" => {
                let mut v = vec![pids()];
                if let Some(i) = facts.init_pid {
                    v.push(format!("ls -l /proc/{i}/ns"));
                    v.push(format!("grep NSpid /proc/{i}/status"));
                }
                v.push(format!("cat {cgroup}/cgroup.procs"));
                v
            }
            "init.namespaces" | "init.mounts" | "init.pivot_root" | "init.process" => {
                let Some(i) = facts.init_pid else {
                    return vec![pids()];
                };
                match phase {
                    "init.namespaces" => vec![format!(
                        "stat -L -c '%n %i' /proc/{i}/ns/net {}",
                        netns.display()
                    )],
                    "init.mounts" => vec![format!("findmnt -N {i}")],
                    "init.pivot_root" => vec![
                        format!("ls -l /proc/{i}/root/"),
                        format!("findmnt -N {i} /"),
                    ],
                    _ => vec![
                        format!("grep -E 'Uid|Gid|Cap|NoNewPrivs' /proc/{i}/status"),
                        format!("nsenter -t {i} -u hostname"),
                    ],
                }
            }
            "start.runtime.create" => {
                let mut v = vec![pids()];
                if let Some(i) = facts.init_pid {
                    v.push(format!("ls -l /proc/{i}/ns"));
                    v.push(format!("grep -E 'NSpid|State' /proc/{i}/status"));
                    v.push(format!("cat /proc/{i}/cgroup"));
                }
                v.push(format!("cat {cgroup}/cgroup.procs"));
                v
            }
            "start.network.attach" => vec![
                in_netns("ip addr"),
                in_netns("ip route"),
                format!("ip link show master {}", self.bridge),
            ],
            "start.runtime.start" => {
                let mut v = vec![pids()];
                if let Some(i) = facts.init_pid {
                    v.push(format!("nsenter -t {i} -m -p -u hostname"));
                    v.push(format!("nsenter -t {i} -m -p ps"));
                }
                v
            }
            "start.set_running" | "start.state_counter" | "start.health" | "start.checkpoint" => {
                vec![
                    format!("cat {}", p.state(id).display()),
                    format!("{cli} ps -a"),
                ]
            }
            "start.event" => vec![format!("tail -n 2 {}", p.events().display())],
            _ => vec![format!("{cli} ps -a")],
        }
    }

    /// What is on the host right now for this container: mounts, netns, cgroup, processes.
    fn live_state(&self, facts: &Facts) -> String {
        let w = self.words();
        let mut out = format!("── {}\n", w.live);
        if crate::host::current().mode() == "sim" {
            return out + &simulated_state();
        }
        let Some(id) = facts.id.as_deref() else {
            return out + &format!("   {}\n", w.no_container);
        };
        let alive = |pid: Option<i32>| pid.filter(|p| Path::new(&format!("/proc/{p}")).exists());
        let init = alive(facts.init_pid);

        out += &format!("{}:\n", w.mounts);
        let host = mountpoints("/proc/self/mountinfo");
        let mine: Vec<&(String, String)> = host.iter().filter(|(m, _)| m.contains(id)).collect();
        if mine.is_empty() {
            out += "   -\n";
        }
        for (m, t) in mine {
            out += &format!("   {m}  ({t})\n");
        }
        if let Some(i) = init {
            let ns = mountpoints(&format!("/proc/{i}/mountinfo"));
            out += &format!("{} ({}):\n", w.ns_mounts, ns.len());
            for (m, t) in &ns {
                out += &format!("   {m}  ({t})\n");
            }
        }

        out += &format!("{}:\n", w.network);
        let netns = self.paths.netns(id);
        let path = if netns.exists() {
            Some(netns)
        } else {
            init.map(|i| PathBuf::from(format!("/proc/{i}/ns/net")))
        };
        match path {
            Some(path) => {
                out += &format!("   {}\n", path.display());
                let o = Command::new("nsenter")
                    .arg(format!("--net={}", path.display()))
                    .args(["ip", "-br", "addr"])
                    .output();
                match o {
                    Ok(o) => {
                        let text = String::from_utf8_lossy(&o.stdout).into_owned()
                            + &String::from_utf8_lossy(&o.stderr);
                        for l in text.lines() {
                            out += &format!("   {l}\n");
                        }
                    }
                    Err(e) => out += &format!("   nsenter: {e}\n"),
                }
            }
            None => out += &format!("   {}\n", w.no_netns),
        }

        out += &format!("{}:\n", w.cgroup);
        let dirs = cgroup_dirs(id);
        if dirs.is_empty() {
            out += &format!("   {}\n", w.no_cgroup);
        }
        for d in dirs {
            let files = std::fs::read_dir(&d).map(|r| r.count()).unwrap_or(0);
            out += &format!("   {} ({files} files)\n", d.display());
            for f in [
                "cgroup.procs",
                "memory.max",
                "memory.limit_in_bytes",
                "pids.max",
                "cpu.max",
                "cpu.cfs_quota_us",
            ] {
                if let Ok(v) = std::fs::read_to_string(d.join(f)) {
                    let v = v.split_whitespace().collect::<Vec<_>>().join(" ");
                    out += &format!("     {f}: {}\n", if v.is_empty() { "-" } else { &v });
                }
            }
        }

        out += &format!("{}:\n", w.processes);
        let shim = alive(facts.shim_pid);
        if shim.is_none() && init.is_none() {
            out += &format!("   {}\n", w.no_processes);
        }
        for (role, pid) in [("shim", shim), ("init", init)] {
            if let Some(pid) = pid {
                out += &format!("   {role:<5} {}\n", describe_process(pid));
                if role == "init" {
                    for child in children(pid) {
                        out += &format!("     └ {}\n", describe_process(child));
                    }
                }
            }
        }
        out
    }
}

impl Stepper for Terminal {
    fn pause(&self, phase: &'static str, facts: &Facts) -> Decision {
        let w = self.words();
        let mut err = std::io::stderr();
        let _ = write!(err, "{}", self.screen(phase, facts));
        loop {
            let _ = write!(err, "{} ", w.prompt);
            let _ = err.flush();
            let key = read_key();
            let _ = writeln!(err);
            match key {
                Some(b'\n' | b'\r') => return Decision::Continue,
                Some(b's' | b'S') => {
                    let _ = write!(err, "{}", self.live_state(facts));
                }
                // q, Ctrl-C, Ctrl-D, or the terminal went away.
                Some(b'q' | b'Q' | 0x03 | 0x04) | None => {
                    let _ = writeln!(err, "{}", w.quit);
                    return Decision::Abort;
                }
                Some(_) => {}
            }
        }
    }
}

/// Reads one key from the terminal without waiting for Enter and without echo. Ctrl-C arrives as
/// a byte (ISIG off), so it aborts through the rollback instead of killing the process mid-phase.
fn read_key() -> Option<u8> {
    let stdin = std::io::stdin();
    let saved = termios::tcgetattr(stdin.as_fd()).ok();
    if let Some(t) = &saved {
        let mut raw = t.clone();
        raw.local_flags
            .remove(LocalFlags::ICANON | LocalFlags::ECHO | LocalFlags::ISIG);
        raw.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
        raw.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
        let _ = termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
    }
    let mut b = [0u8; 1];
    let r = loop {
        match stdin.lock().read(&mut b) {
            Ok(1) => break Some(b[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            _ => break None,
        }
    };
    if let Some(t) = &saved {
        let _ = termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, t);
    }
    r
}

fn ms(ns: u64) -> String {
    format!("{:.2} ms", ns as f64 / 1e6)
}

/// (mount point, fs type) of each line of a mountinfo file.
fn mountpoints(file: &str) -> Vec<(String, String)> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut f = l.split(' ');
            let point = f.nth(4)?.to_string();
            let fstype = l.split(" - ").nth(1)?.split(' ').next()?.to_string();
            Some((point, fstype))
        })
        .collect()
}

/// The container's cgroup directories that exist now.
fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    Hierarchy::detect()
        .map(|h| Cgroup::open(&h, &format!("/ctrace/{id}")).paths())
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.is_dir())
        .collect()
}

/// `pid ppid=… state cmdline` from /proc.
fn describe_process(pid: i32) -> String {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let mut f = rest.split_whitespace();
    let state = f.next().unwrap_or("?");
    let ppid = f.next().unwrap_or("?");
    let cmd = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| {
            String::from_utf8_lossy(&c)
                .replace('\0', " ")
                .trim()
                .to_string()
        })
        .unwrap_or_default();
    format!("pid {pid} ppid {ppid} {state} {cmd}")
}

/// The direct children of `pid`.
fn children(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().nth(1))
            .and_then(|s| s.parse::<i32>().ok());
        if ppid == Some(pid) {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// The simulated host, as `ctrace sim host` shows it (its directory is in the environment the
/// simulator set for this command).
fn simulated_state() -> String {
    let dirs = crate::sim::mode::Dirs::from_env(|k| std::env::var(k).ok());
    let model = dirs.map_err(|e| e.to_string()).and_then(|d| {
        crate::sim::model::Store::new(&d.host())
            .change(|m| {
                m.collect(crate::sys::process::alive);
                Ok(m.clone())
            })
            .map_err(|e| e.to_string())
    });
    match model {
        Ok(m) => crate::sim::view::render(&m, crate::sim::view::Part::All),
        Err(e) => format!("   cannot read the simulated host: {e}\n"),
    }
}
