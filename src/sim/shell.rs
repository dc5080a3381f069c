//! The commands inside a simulated container: a small interpreter for what classes type —
//! `echo`, `true`, `false`, `exit N`, `sh -c` with `;`, `&&`, `||`, `sleep`, `hostname`, `id`,
//! `env`, `pwd`, `ls`, `cat`, `ps`, `ip addr`/`ip route`, `ping`, `httpd`, a memory hog that the
//! modelled cgroup OOM-kills (`tail /dev/zero`, `stress --vm-bytes N`), and a fork bomb that
//! `--pids-limit` stops. Anything else fails as a missing command does in a real container.
//!
//! It runs in the simulated container's process (a real process, so signals, `stop`, `kill`,
//! exit codes and logs behave as they do for real) in place of `execve`, and sees the container
//! through [`Container`]: its files, hostname, network, processes and limits from the model.
//!
//! Not here: how the process got there (the runtime's phases, over the simulated host).

use std::io::Write;
use std::time::Duration;

use crate::sys::exit;

/// What the interpreter can see of its container.
pub trait Container {
    fn hostname(&self) -> String;
    /// A file's content (`/etc/hosts`, `/etc/resolv.conf`, `/proc/self/cgroup`, …).
    fn read(&self, path: &str) -> Option<String>;
    /// A directory's entries, sorted.
    fn list(&self, path: &str) -> Option<Vec<String>>;
    /// `ip addr` lines.
    fn addresses(&self) -> Vec<String>;
    /// `ip route` lines.
    fn routes(&self) -> Vec<String>;
    /// `ps` rows: (pid, command).
    fn processes(&self) -> Vec<(i32, String)>;
    /// Can this container reach `host` (a name or address)? Its address when so.
    fn reach(&self, host: &str) -> Option<String>;
    /// The memory limit in bytes (`None`: unlimited).
    fn memory_limit(&self) -> Option<u64>;
    /// The pids limit (`None`: unlimited).
    fn pids_limit(&self) -> Option<u64>;
    /// Records that the cgroup's OOM killer killed the container's process.
    fn oom_kill(&self);
    /// Serves HTTP on `port` until the process is killed (a published port reaches it).
    fn serve_http(&self, port: u16, out: &mut dyn Write) -> !;
}

/// The outcome of running a command line: the exit status, or a signal that ends the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Exit(i32),
    /// The process is killed by this signal (the OOM killer's SIGKILL).
    Killed(i32),
}

/// Runs `argv` (the container's ENTRYPOINT + CMD) with `env`, writing to `out` and `err`.
pub fn run(
    argv: &[String],
    env: &[String],
    c: &dyn Container,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Outcome {
    let mut sh = Shell {
        env: env.to_vec(),
        cwd: env_get(env, "PWD").unwrap_or_else(|| "/".into()),
        status: 0,
        exited: None,
        c,
    };
    let o = sh.command(argv, out, err);
    let _ = out.flush();
    let _ = err.flush();
    o
}

fn env_get(env: &[String], key: &str) -> Option<String> {
    env.iter()
        .rev()
        .find_map(|e| e.strip_prefix(&format!("{key}=")).map(str::to_string))
}

struct Shell<'a> {
    env: Vec<String>,
    cwd: String,
    status: i32,
    /// Set by `exit`: the script stops here.
    exited: Option<i32>,
    c: &'a dyn Container,
}

/// One piece of a command line: a command and how it is joined to the next.
#[derive(Debug, PartialEq)]
enum Join {
    Seq,
    And,
    Or,
}

/// Splits a script at `;`, `&&` and `||` outside quotes (a lone `&` or `|` runs the pieces in
/// order, as far as the simulation goes); each piece is expanded only when it runs, so `$?` is the
/// status of the piece before.
fn split(script: &str) -> Vec<(String, Join)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = script.chars().peekable();
    while let Some(ch) = chars.next() {
        match (quote, ch) {
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (Some(_), '\\') => {
                cur.push('\\');
                if let Some(c) = chars.next() {
                    cur.push(c);
                }
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(ch);
                cur.push(ch);
            }
            (None, '\\') => {
                cur.push('\\');
                if let Some(c) = chars.next() {
                    cur.push(c);
                }
            }
            (None, ';' | '&' | '|') => {
                let join = match (ch, chars.peek()) {
                    ('&', Some('&')) => {
                        chars.next();
                        Join::And
                    }
                    ('|', Some('|')) => {
                        chars.next();
                        Join::Or
                    }
                    _ => Join::Seq,
                };
                out.push((std::mem::take(&mut cur), join));
            }
            (None, c) => cur.push(c),
        }
    }
    out.push((cur, Join::Seq));
    out
}

/// The words of one command, honouring quotes; `$VAR` and `$?` are expanded outside single
/// quotes.
fn words(script: &str, env: &[String], status: i32) -> Result<Vec<String>, String> {
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = script.chars().peekable();
    let expand = |name: &str| -> String {
        if name == "?" {
            status.to_string()
        } else {
            env_get(env, name).unwrap_or_default()
        }
    };
    while let Some(ch) = chars.next() {
        match ch {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unterminated quoted string".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => {
                            if let Some(c) = chars.next() {
                                word.push(c)
                            }
                        }
                        Some('$') => word += &expand(&var_name(&mut chars)),
                        Some(c) => word.push(c),
                        None => return Err("unterminated quoted string".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    word.push(c);
                }
            }
            '$' => {
                in_word = true;
                word += &expand(&var_name(&mut chars));
            }
            ' ' | '\t' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

fn var_name(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> String {
    let mut name = String::new();
    if chars.peek() == Some(&'?') {
        chars.next();
        return "?".into();
    }
    let braced = chars.peek() == Some(&'{');
    if braced {
        chars.next();
    }
    while let Some(&c) = chars.peek() {
        if c.is_ascii_alphanumeric() || c == '_' {
            name.push(c);
            chars.next();
        } else {
            break;
        }
    }
    if braced && chars.peek() == Some(&'}') {
        chars.next();
    }
    name
}

/// Parses `500m`, `1g`, `1048576` into bytes.
fn bytes(s: &str) -> Option<u64> {
    crate::sys::size::parse_size("size", s)
        .ok()
        .and_then(|n| u64::try_from(n).ok())
}

impl Shell<'_> {
    fn script(&mut self, script: &str, out: &mut dyn Write, err: &mut dyn Write) -> Outcome {
        // Fork bomb: `:(){ :|:& };:` — recognised by its shape.
        if script.replace(' ', "").contains(":(){:|:&};:") {
            return self.fork_bomb(err);
        }
        let mut skip = false;
        for (piece, join) in split(script) {
            let words = if skip {
                Vec::new()
            } else {
                match words(&piece, &self.env, self.status) {
                    Ok(w) => w,
                    Err(e) => {
                        let _ = writeln!(err, "sh: syntax error: {e}");
                        return Outcome::Exit(2);
                    }
                }
            };
            if !skip && !words.is_empty() {
                match self.command(&words, out, err) {
                    Outcome::Exit(code) => self.status = code,
                    killed => return killed,
                }
            }
            skip = match join {
                Join::Seq => false,
                Join::And => self.status != 0,
                Join::Or => self.status == 0,
            };
            if let Some(code) = self.exited {
                return Outcome::Exit(code);
            }
        }
        Outcome::Exit(self.status)
    }

    fn command(&mut self, argv: &[String], out: &mut dyn Write, err: &mut dyn Write) -> Outcome {
        let Some(name) = argv.first() else {
            return Outcome::Exit(0);
        };
        let name = name.rsplit('/').next().unwrap_or(name).to_string();
        let args = &argv[1..];
        let ok = Outcome::Exit(0);
        match name.as_str() {
            "sh" | "ash" | "bash" => match args {
                [flag, script, ..] if flag == "-c" => self.script(script, out, err),
                [] => {
                    // A shell with no script reads stdin: the lines it is given, with busybox's
                    // prompt when stdin is a terminal (`-it`).
                    use std::io::IsTerminal;
                    let interactive = std::io::stdin().is_terminal();
                    let prompt = |cwd: &str, out: &mut dyn Write| {
                        if interactive {
                            let _ = write!(out, "{cwd} # ");
                            let _ = out.flush();
                        }
                    };
                    let mut status = Outcome::Exit(0);
                    prompt(&self.cwd, out);
                    for line in std::io::stdin().lines().map_while(Result::ok) {
                        status = self.script(&line, out, err);
                        if matches!(status, Outcome::Killed(_)) || self.exited.is_some() {
                            break;
                        }
                        prompt(&self.cwd, out);
                    }
                    if let Some(code) = self.exited {
                        return Outcome::Exit(code);
                    }
                    status
                }
                _ => {
                    let _ = writeln!(
                        err,
                        "sh: can't open '{}': No such file or directory",
                        args[0]
                    );
                    Outcome::Exit(2)
                }
            },
            "echo" => {
                let (newline, words) = match args.first().map(String::as_str) {
                    Some("-n") => (false, &args[1..]),
                    _ => (true, args),
                };
                let _ = write!(
                    out,
                    "{}{}",
                    words.join(" "),
                    if newline { "\n" } else { "" }
                );
                ok
            }
            "true" | ":" => ok,
            "false" => Outcome::Exit(1),
            "exit" => {
                let code = args
                    .first()
                    .and_then(|a| a.parse::<i32>().ok())
                    .unwrap_or(self.status);
                self.exited = Some(code & 0xff);
                Outcome::Exit(code & 0xff)
            }
            "sleep" => {
                let secs: f64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(0.0);
                let _ = out.flush();
                std::thread::sleep(Duration::from_secs_f64(secs.clamp(0.0, 1e7)));
                ok
            }
            "hostname" => {
                let _ = writeln!(out, "{}", self.c.hostname());
                ok
            }
            "id" => {
                let _ = writeln!(out, "uid=0(root) gid=0(root) groups=0(root),10(wheel)");
                ok
            }
            "env" | "printenv" => {
                for e in &self.env {
                    let _ = writeln!(out, "{e}");
                }
                ok
            }
            "pwd" => {
                let _ = writeln!(out, "{}", self.cwd);
                ok
            }
            "cd" => {
                self.cwd = args.first().cloned().unwrap_or_else(|| "/".into());
                ok
            }
            "export" => {
                for a in args {
                    if a.contains('=') {
                        self.env.push(a.clone());
                    }
                }
                ok
            }
            "ls" => self.ls(args, out, err),
            "cat" => {
                let mut code = 0;
                for a in args {
                    match self.c.read(&self.abs(a)) {
                        Some(text) => {
                            let _ = out.write_all(text.as_bytes());
                        }
                        None => {
                            let _ =
                                writeln!(err, "cat: can't open '{a}': No such file or directory");
                            code = 1;
                        }
                    }
                }
                Outcome::Exit(code)
            }
            "ps" => {
                let _ = writeln!(out, "PID   USER     TIME  COMMAND");
                for (pid, cmd) in self.c.processes() {
                    let _ = writeln!(out, "{pid:>5} root      0:00 {cmd}");
                }
                ok
            }
            "ip" => self.ip(args, out, err),
            "ping" => self.ping(args, out, err),
            "httpd" => {
                let port = args
                    .iter()
                    .position(|a| a == "-p")
                    .and_then(|i| args.get(i + 1))
                    .and_then(|p| p.rsplit(':').next()?.parse().ok())
                    .unwrap_or(80);
                self.c.serve_http(port, out)
            }
            "tail" if args.iter().any(|a| a == "/dev/zero") => self.hog(None, err),
            "stress" => {
                let n = args
                    .iter()
                    .position(|a| a == "--vm-bytes")
                    .and_then(|i| args.get(i + 1))
                    .and_then(|s| bytes(s));
                self.hog(n, err)
            }
            _ => {
                let _ = writeln!(err, "sh: {name}: not found");
                Outcome::Exit(exit::NOT_FOUND)
            }
        }
    }

    fn abs(&self, p: &str) -> String {
        if p.starts_with('/') {
            p.to_string()
        } else {
            format!("{}/{p}", self.cwd.trim_end_matches('/'))
        }
    }

    fn ls(&mut self, args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> Outcome {
        let paths: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
        let targets: Vec<String> = if paths.is_empty() {
            vec![self.cwd.clone()]
        } else {
            paths.iter().map(|p| self.abs(p)).collect()
        };
        let mut code = 0;
        for t in targets {
            match self.c.list(&t) {
                Some(names) => {
                    for n in names {
                        let _ = writeln!(out, "{n}");
                    }
                }
                None if self.c.read(&t).is_some() => {
                    let _ = writeln!(out, "{t}");
                }
                None => {
                    let _ = writeln!(err, "ls: {t}: No such file or directory");
                    code = 1;
                }
            }
        }
        Outcome::Exit(code)
    }

    fn ip(&mut self, args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> Outcome {
        let lines = match args.first().map(String::as_str) {
            Some("a" | "addr" | "address") | Some("link") | None => self.c.addresses(),
            Some("r" | "route") => self.c.routes(),
            Some(other) => {
                let _ = writeln!(
                    err,
                    "ip: unknown object '{other}' (the simulator knows addr and route)"
                );
                return Outcome::Exit(1);
            }
        };
        for l in lines {
            let _ = writeln!(out, "{l}");
        }
        Outcome::Exit(0)
    }

    fn ping(&mut self, args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> Outcome {
        let count: u32 = args
            .iter()
            .position(|a| a == "-c")
            .and_then(|i| args.get(i + 1))
            .and_then(|c| c.parse().ok())
            .unwrap_or(4);
        let Some(host) = args
            .iter()
            .enumerate()
            .filter(|(i, a)| !a.starts_with('-') && (*i == 0 || args[i - 1] != "-c"))
            .map(|(_, a)| a.clone())
            .next_back()
        else {
            let _ = writeln!(
                err,
                "BusyBox v1.36 multi-call binary.\n\nUsage: ping [OPTIONS] HOST"
            );
            return Outcome::Exit(1);
        };
        let Some(addr) = self.c.reach(&host) else {
            // busybox: an address it cannot route to, or a name it cannot resolve.
            if host.parse::<std::net::IpAddr>().is_ok() {
                let _ = writeln!(out, "PING {host} ({host}): 56 data bytes");
                let _ = writeln!(err, "ping: sendto: Network unreachable");
            } else {
                let _ = writeln!(err, "ping: bad address '{host}'");
            }
            return Outcome::Exit(1);
        };
        let _ = writeln!(out, "PING {host} ({addr}): 56 data bytes");
        for seq in 0..count {
            let _ = writeln!(out, "64 bytes from {addr}: seq={seq} ttl=64 time=0.071 ms");
        }
        let _ = writeln!(
            out,
            "\n--- {host} ping statistics ---\n{count} packets transmitted, {count} packets received, 0% packet loss"
        );
        Outcome::Exit(0)
    }

    /// Allocates until the cgroup's limit (or `want` bytes, if smaller): over the limit, the OOM
    /// killer ends the process with SIGKILL, as the kernel's does.
    fn hog(&mut self, want: Option<u64>, err: &mut dyn Write) -> Outcome {
        let limit = self.c.memory_limit();
        match (want, limit) {
            (Some(w), Some(l)) if w <= l => Outcome::Exit(0),
            (Some(_), None) => Outcome::Exit(0),
            (None, None) => {
                let _ = writeln!(err, "tail: memory exhausted");
                Outcome::Exit(1)
            }
            _ => {
                self.c.oom_kill();
                Outcome::Killed(libc::SIGKILL)
            }
        }
    }

    /// `:(){ :|:& };:` — forks until the pids limit says no.
    fn fork_bomb(&mut self, err: &mut dyn Write) -> Outcome {
        match self.c.pids_limit() {
            Some(n) => {
                for _ in 0..3 {
                    let _ = writeln!(err, "sh: can't fork: Resource temporarily unavailable");
                }
                let _ = writeln!(
                    err,
                    "(the pids cgroup stopped the fork bomb at {n} processes)"
                );
                Outcome::Exit(2)
            }
            None => {
                let _ = writeln!(
                    err,
                    "(no --pids-limit: on a real host this fork bomb would take the machine down; the simulator stops it here)"
                );
                Outcome::Killed(libc::SIGKILL)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Box1 {
        mem: Option<u64>,
        oom: std::cell::Cell<bool>,
    }

    impl Container for Box1 {
        fn hostname(&self) -> String {
            "5e1c0ffee123".into()
        }
        fn read(&self, path: &str) -> Option<String> {
            (path == "/etc/hostname").then(|| "5e1c0ffee123\n".into())
        }
        fn list(&self, path: &str) -> Option<Vec<String>> {
            (path == "/").then(|| vec!["bin".into(), "etc".into()])
        }
        fn addresses(&self) -> Vec<String> {
            vec!["1: lo: <LOOPBACK,UP>".into()]
        }
        fn routes(&self) -> Vec<String> {
            vec!["default via 10.88.0.1 dev eth0".into()]
        }
        fn processes(&self) -> Vec<(i32, String)> {
            vec![(1, "sh".into())]
        }
        fn reach(&self, host: &str) -> Option<String> {
            (host == "web").then(|| "10.88.0.3".into())
        }
        fn memory_limit(&self) -> Option<u64> {
            self.mem
        }
        fn pids_limit(&self) -> Option<u64> {
            Some(20)
        }
        fn oom_kill(&self) {
            self.oom.set(true);
        }
        fn serve_http(&self, _port: u16, _out: &mut dyn Write) -> ! {
            panic!("not in tests")
        }
    }

    fn sh(script: &str, mem: Option<u64>) -> (Outcome, String, String, bool) {
        let c = Box1 {
            mem,
            oom: std::cell::Cell::new(false),
        };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let argv = vec!["sh".to_string(), "-c".to_string(), script.to_string()];
        let o = run(
            &argv,
            &["PATH=/bin".into(), "X=1".into()],
            &c,
            &mut out,
            &mut err,
        );
        (
            o,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
            c.oom.get(),
        )
    }

    #[test]
    fn lists_and_conditionals_run_as_a_shell_runs_them() {
        let (o, out, _, _) = sh(
            "echo a; false && echo no || echo b; echo \"x=$X\" '$X'",
            None,
        );
        assert_eq!(o, Outcome::Exit(0));
        assert_eq!(out, "a\nb\nx=1 $X\n");
        assert_eq!(sh("exit 3; echo never", None).0, Outcome::Exit(3));
        assert_eq!(sh("false; echo $?", None).1, "1\n");
    }

    #[test]
    fn an_unknown_command_fails_with_127_and_says_not_found() {
        let (o, _, err, _) = sh("nosuchcmd", None);
        assert_eq!(o, Outcome::Exit(127));
        assert!(err.contains("nosuchcmd: not found"), "{err}");
    }

    #[test]
    fn files_hostname_network_and_ping_come_from_the_container() {
        let (_, out, _, _) = sh(
            "hostname; cat /etc/hostname; ls /; ip route; ping -c 1 web",
            None,
        );
        assert!(
            out.starts_with("5e1c0ffee123\n5e1c0ffee123\nbin\netc\ndefault via"),
            "{out}"
        );
        assert!(out.contains("64 bytes from 10.88.0.3"), "{out}");
        assert_eq!(sh("ping -c 1 nowhere", None).0, Outcome::Exit(1));
    }

    #[test]
    fn a_memory_hog_over_the_limit_is_oom_killed_and_a_fork_bomb_hits_the_pids_limit() {
        let (o, _, _, oom) = sh("tail /dev/zero", Some(64 << 20));
        assert_eq!((o, oom), (Outcome::Killed(9), true));
        let (o, _, _, oom) = sh("stress --vm-bytes 32m", Some(64 << 20));
        assert_eq!((o, oom), (Outcome::Exit(0), false));
        let (o, _, err, _) = sh(":(){ :|:& };:", None);
        assert_eq!(o, Outcome::Exit(2));
        assert!(err.contains("can't fork"), "{err}");
    }
}
