//! The command line, as clap sees it. Flags follow docker's names and short forms.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

/// A container engine that shows its own work: every create/start phase is a traced span.
#[derive(Debug, Parser)]
#[command(name = "ctrace", version, about, propagate_version = true)]
pub struct Cli {
    /// Persistent state: images, containers, traces.
    #[arg(
        long,
        global = true,
        env = "CTRACE_ROOT",
        default_value = "/var/lib/ctrace"
    )]
    pub root: PathBuf,
    /// Volatile state: bundles, exec fifos (lost at reboot, like the processes).
    #[arg(
        long,
        global = true,
        env = "CTRACE_EXEC_ROOT",
        default_value = "/run/ctrace"
    )]
    pub exec_root: PathBuf,
    /// The bridge that bridge-mode containers join (dockerd's --bridge); created on first use.
    #[arg(long, global = true, env = "CTRACE_BRIDGE", default_value = crate::network::bridge::DEFAULT_BRIDGE)]
    pub bridge: String,
    /// The bridge's IPv4 subnet; its first address is the gateway (dockerd's --bip).
    #[arg(long, global = true, env = "CTRACE_BRIDGE_SUBNET", default_value = crate::network::bridge::DEFAULT_SUBNET)]
    pub bridge_subnet: String,
    /// Docker Hub mirror tried before Docker Hub (dockerd's --registry-mirror); repeat or
    /// separate with commas.
    #[arg(
        long = "registry-mirror",
        global = true,
        env = "CTRACE_REGISTRY_MIRROR",
        value_delimiter = ',',
        value_name = "URL"
    )]
    pub registry_mirrors: Vec<String>,
    /// Registry (host[:port]) to speak plain HTTP to (dockerd's --insecure-registry); loopback
    /// registries always are.
    #[arg(
        long = "insecure-registry",
        global = true,
        env = "CTRACE_INSECURE_REGISTRIES",
        value_delimiter = ',',
        value_name = "HOST"
    )]
    pub insecure_registries: Vec<String>,
    /// The daemon to talk to (unix:///path/to/ctrace.sock); by default `<exec-root>/ctrace.sock`
    /// when a daemon answers there, else the engine runs in this process.
    #[arg(short = 'H', long, global = true, env = "CTRACE_HOST")]
    pub host: Option<String>,
    /// Run against a simulated host: the same phases, the kernel modelled (no root, no Linux
    /// needed). Also CTRACE_SIM=1; chosen by itself where real containers cannot run.
    #[arg(long, conflicts_with = "real")]
    pub sim: bool,
    /// Real containers or an error: never fall back to the simulator (CTRACE_SIM=0).
    #[arg(long)]
    pub real: bool,
    /// Simulator: make ids and modelled durations reproducible.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Simulator: fit the latency model on the trace files in DIR (recorded on a real host).
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Simulator: take as long as the modelled durations (by default it does not wait).
    #[arg(long)]
    pub realtime: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create and start a container, and wait for it (docker run).
    #[command(disable_help_flag = true)]
    Run(RunArgs),
    /// Create a container without starting it (docker create).
    #[command(disable_help_flag = true)]
    Create(CreateArgs),
    /// Start created or exited containers (docker start).
    Start(StartArgs),
    /// List containers (docker ps).
    Ps(PsArgs),
    /// Stop running containers: StopSignal, then SIGKILL after a grace period (docker stop).
    Stop(StopArgs),
    /// Send a signal (SIGKILL by default) to running containers (docker kill).
    Kill(KillArgs),
    /// Block until containers stop, then print their exit codes (docker wait).
    Wait {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Remove containers (docker rm).
    Rm(RmArgs),
    /// Pause all processes within containers: cgroup freezer (docker pause).
    Pause {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Unpause all processes within containers (docker unpause).
    Unpause {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Restart containers: stop, then start, one trace (docker restart).
    Restart(StopArgs),
    /// Show the container events log, and follow it live (docker events).
    Events(EventsArgs),
    /// Show low-level information on containers as JSON (docker inspect).
    Inspect(InspectArgs),
    /// Run a command in a running container (docker exec).
    Exec(ExecArgs),
    /// Print a container's output (docker logs).
    Logs(LogsArgs),
    /// List images (docker images).
    Images(ImagesArgs),
    /// Remove images (docker rmi).
    Rmi(RmiArgs),
    /// Download an image from a registry (docker pull).
    Pull(PullArgs),
    /// Store credentials for a registry (docker login).
    Login(LoginArgs),
    /// Remove stored credentials for a registry (docker logout).
    Logout {
        /// The registry (default: Docker Hub).
        server: Option<String>,
    },
    /// Manage images.
    #[command(subcommand)]
    Image(ImageCommand),
    /// Manage volumes.
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// Manage the bridge network.
    #[command(subcommand)]
    Network(NetworkCommand),
    /// Work with recorded traces.
    #[command(subcommand)]
    Trace(TraceCommand),
    /// Run N containers and show where start latency goes (per-phase percentiles).
    Bench(BenchArgs),
    /// Generate the course book.
    #[command(subcommand)]
    Book(BookCommand),
    /// The simulator: its modelled host, and guided failure scenarios.
    #[command(subcommand)]
    Sim(SimCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completion { shell: clap_complete::Shell },
    /// Display system-wide information (docker info), the live OTLP export's counters included.
    Info {
        /// `json`: the daemon's /info document as is.
        #[arg(long, value_parser = ["json"])]
        format: Option<String>,
    },
    /// Run the engine as a daemon serving the Docker Engine API (1.24 to 1.56) on a unix socket.
    Daemon(DaemonArgs),
    /// (internal) The per-container shim; started by the engine, not by users.
    #[command(hide = true)]
    Shim(ShimCmd),
}

/// `ctrace daemon`.
#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// The socket to listen on (default `<exec-root>/ctrace.sock`).
    #[arg(long)]
    pub socket: Option<PathBuf>,
    /// The group allowed to use the socket (mode 0660), when it exists.
    #[arg(long, default_value = "ctrace")]
    pub group: String,
    /// Hand each request's trace to the containers it creates: their processes get TRACEPARENT
    /// (the Engine API has no field for it, so it is the daemon's choice for all of them).
    #[arg(long)]
    pub trace_propagate: bool,
    /// Keep at most N traces: the oldest go after each trace the daemon writes (default: the
    /// settings file's max-traces, else all).
    #[arg(long, value_name = "N")]
    pub max_traces: Option<usize>,
}

/// Flags shared by `create` and `run`.
#[derive(Debug, Args, Clone)]
pub struct CreateFlags {
    /// Print help.
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,
    /// Assign a name to the container.
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables (NAME=value, or NAME to copy it from here).
    #[arg(short = 'e', long = "env", value_name = "NAME[=VALUE]")]
    pub env: Vec<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// Container host name.
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Memory limit (e.g. 64m, 1g).
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Memory + swap limit, -1 for unlimited swap.
    #[arg(long)]
    pub memory_swap: Option<String>,
    /// Tune the container's pids limit (-1 for unlimited).
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Number of CPUs (e.g. 0.5).
    #[arg(long)]
    pub cpus: Option<String>,
    /// Network mode: bridge (default), none, host or container:<name|id>.
    #[arg(long, alias = "net", default_value = "")]
    pub network: String,
    /// Publish a container's port to the host ([hostip:][hostport:]containerport[/tcp|udp]).
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Publish all the image's exposed ports to free host ports.
    #[arg(short = 'P', long)]
    pub publish_all: bool,
    /// Set custom DNS servers.
    #[arg(long)]
    pub dns: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip, or host:host-gateway).
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// Runtime: embedded (ctrace's own) or runc.
    #[arg(long, default_value = "embedded")]
    pub runtime: String,
    /// Overwrite the image's ENTRYPOINT.
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Set metadata (KEY=VALUE).
    #[arg(short = 'l', long = "label")]
    pub labels: Vec<String>,
    /// Mount the container's root filesystem read-only.
    #[arg(long)]
    pub read_only: bool,
    /// Security options: seccomp=unconfined, seccomp=PROFILE.json, no-new-privileges.
    #[arg(long, value_name = "OPT")]
    pub security_opt: Vec<String>,
    /// Add Linux capabilities (NET_ADMIN or CAP_NET_ADMIN, or ALL).
    #[arg(long, value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities (or ALL).
    #[arg(long, value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Ulimit options (NAME=SOFT[:HARD], e.g. nofile=1024:2048).
    #[arg(long, value_name = "NAME=SOFT[:HARD]")]
    pub ulimit: Vec<String>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long)]
    pub cpu_shares: Option<i64>,
    /// Limit the CPU CFS quota (µs per period).
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// Limit the CPU CFS period (µs).
    #[arg(long)]
    pub cpu_period: Option<i64>,
    /// Seconds `stop` waits before SIGKILL (default 10).
    #[arg(long, value_name = "SECONDS", allow_hyphen_values = true)]
    pub stop_timeout: Option<i64>,
    /// Give extended privileges to this container (refused by ctrace).
    #[arg(long)]
    pub privileged: bool,
    /// Add a host device to the container (refused by ctrace).
    #[arg(long, value_name = "DEVICE")]
    pub device: Vec<String>,
    /// PID namespace to use (refused by ctrace: containers get their own).
    #[arg(long, value_name = "MODE")]
    pub pid: Option<String>,
    /// Parent cgroup for the container (refused by ctrace).
    #[arg(long, value_name = "CGROUP")]
    pub cgroup_parent: Option<String>,
    /// Restart policy when the container exits: no, on-failure[:max-retries], always, unless-stopped.
    #[arg(long, value_name = "POLICY")]
    pub restart: Option<String>,
    /// Bind mount a host path or a volume (SRC:DST[:ro|rw][,z|nocopy|rshared…]), or DST for an
    /// anonymous volume.
    #[arg(short = 'v', long = "volume", value_name = "SRC:DST[:OPTS]")]
    pub volumes: Vec<String>,
    /// Attach a filesystem mount (type=bind|volume|tmpfs,source=…,target=…[,readonly]…).
    #[arg(long = "mount", value_name = "KEY=VALUE,…")]
    pub mounts: Vec<String>,
    /// Mount a tmpfs (DST[:size=8m,mode=1777…]).
    #[arg(long, value_name = "DST[:OPTS]")]
    pub tmpfs: Vec<String>,
    /// Mount the volumes of another container (NAME[:ro|rw]).
    #[arg(long, value_name = "CONTAINER[:ro|rw]")]
    pub volumes_from: Vec<String>,
    /// Command to run to check health (run with /bin/sh -c in the container).
    #[arg(long)]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h), default 30s.
    #[arg(long)]
    pub health_interval: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h), default 30s.
    #[arg(long)]
    pub health_timeout: Option<String>,
    /// Consecutive failures needed to report unhealthy, default 3.
    #[arg(long)]
    pub health_retries: Option<i64>,
    /// Start period for the container to initialize before failures count (ms|s|m|h).
    #[arg(long)]
    pub health_start_period: Option<String>,
    /// Disable any container-specified HEALTHCHECK.
    #[arg(long)]
    pub no_healthcheck: bool,
    /// Keep STDIN open.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Narrate every phase as it happens (on stderr).
    #[arg(long)]
    pub explain: bool,
    /// Language of --explain (default: CTRACE_LANG, then the locale).
    #[arg(long)]
    pub lang: Option<String>,
    /// Make PHASE fail, to watch the engine roll back (e.g. start.spec, runtime.clone).
    #[arg(long, value_name = "PHASE")]
    pub fail_at: Option<String>,
    /// Pull the image before creating: missing (default), always, never.
    #[arg(long, env = "CTRACE_PULL", default_value = "missing", value_parser = ["missing", "always", "never"])]
    pub pull: String,
    /// Pull this platform (os/arch[/variant]) when the image has several.
    #[arg(long)]
    pub platform: Option<String>,
    /// Pause after each phase with its lesson: Enter goes on, s shows the live state, q rolls back.
    #[arg(long)]
    pub step: bool,
    /// Hand this trace to the container: its process gets TRACEPARENT, so a traced program in it
    /// continues the same trace.
    #[arg(long)]
    pub trace_propagate: bool,
    /// The image to run.
    pub image: String,
    /// The command and its arguments (default: the image's).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Run in the background and print the container id.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Send the trace over OTLP once the container has exited (OTEL_EXPORTER_OTLP_* apply).
    #[arg(long)]
    pub otlp: bool,
    #[command(flatten)]
    pub flags: CreateFlags,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    #[command(flatten)]
    pub flags: CreateFlags,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach stdout/stderr and wait for the exit; exit with the container's code.
    #[arg(short = 'a', long)]
    pub attach: bool,
    /// Attach the container's stdin (its terminal with -t).
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Narrate every phase as it happens (on stderr).
    #[arg(long)]
    pub explain: bool,
    /// Language of --explain.
    #[arg(long)]
    pub lang: Option<String>,
    /// Make PHASE fail, to watch the engine roll back.
    #[arg(long, value_name = "PHASE")]
    pub fail_at: Option<String>,
    /// Pause after each phase with its lesson: Enter goes on, s shows the live state, q rolls back.
    #[arg(long)]
    pub step: bool,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running).
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only display container ids.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Filter: status=<state>, name=<substring>, id=<prefix>, ancestor=<image>, exited=<code>
    /// (repeat a key to OR its values; different keys AND).
    #[arg(short = 'f', long = "filter")]
    pub filters: Vec<String>,
    /// Show the n last created containers (all states).
    #[arg(short = 'n', long = "last")]
    pub last: Option<usize>,
    /// Show the latest created container (all states).
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Output: table (default) or json (one object per line, as docker).
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Don't truncate output.
    #[arg(long)]
    pub no_trunc: bool,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Show events created since this time: a duration (10m, 1h30m), RFC 3339, or unix seconds.
    #[arg(long)]
    pub since: Option<String>,
    /// Stream events until this time (same forms); without it, follow live until interrupted.
    #[arg(long)]
    pub until: Option<String>,
    /// Filter: container=<name|id>, event=<action>, type=container, image=<ref> (repeatable).
    #[arg(short = 'f', long = "filter")]
    pub filters: Vec<String>,
    /// Output: text (default, docker's line format) or json (one object per line).
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait for the container to exit before killing it (default: the container's
    /// --stop-timeout, or 10).
    #[arg(short = 't', long = "time", visible_alias = "timeout")]
    pub time: Option<u64>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal to send: a name (KILL, SIGTERM) or a number.
    #[arg(short = 's', long, default_value = "KILL")]
    pub signal: String,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force the removal of a running container (SIGKILL).
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Remove the anonymous volumes of the container.
    #[arg(short = 'v', long)]
    pub volumes: bool,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Detached mode: run the command in the background.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep STDIN open.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Set environment variables (NAME=value, or NAME to copy it from here).
    #[arg(short = 'e', long = "env", value_name = "NAME[=VALUE]")]
    pub env: Vec<String>,
    /// Read environment variables from a file (NAME=value lines, # comments).
    #[arg(long = "env-file")]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container (absolute).
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    pub container: String,
    /// The command and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow log output until the container exits (or ^C).
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs, or `all`.
    #[arg(short = 'n', long, default_value = "all", allow_hyphen_values = true)]
    pub tail: String,
    /// Show timestamps.
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Show logs since a time (RFC 3339, unix seconds) or for a duration back (e.g. 10m, 1h30m).
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a time (RFC 3339, unix seconds) or a duration back (e.g. 10m).
    #[arg(long)]
    pub until: Option<String>,
    pub container: String,
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Only show image ids.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Output: table (default) or json.
    #[arg(long, default_value = "table")]
    pub format: String,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// NAME[:TAG|@DIGEST], e.g. busybox, 127.0.0.1:5000/team/app:1.2, alpine@sha256:…
    pub reference: String,
    /// Print only the image's full reference.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Narrate every phase of the pull as it happens (on stderr).
    #[arg(long)]
    pub explain: bool,
    /// Language of --explain (default: CTRACE_LANG, then the locale).
    #[arg(long)]
    pub lang: Option<String>,
    /// Pull this platform (os/arch[/variant]) when the image has several.
    #[arg(long)]
    pub platform: Option<String>,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The registry (default: Docker Hub).
    pub server: Option<String>,
    #[arg(short = 'u', long)]
    pub username: Option<String>,
    #[arg(short = 'p', long)]
    pub password: Option<String>,
    /// Read the password from stdin.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct RmiArgs {
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Import a docker-save tarball, an OCI image layout (dir or tar), or a plain rootfs tar (--rootfs).
    Import(ImportArgs),
    /// List images.
    Ls(ImagesArgs),
    /// Remove images.
    Rm(RmiArgs),
    /// Show an image's details as JSON.
    Inspect { images: Vec<String> },
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Treat the file as a plain root filesystem tarball.
    #[arg(long)]
    pub rootfs: bool,
    /// Default command for a rootfs import (JSON array or a shell-split string).
    #[arg(long)]
    pub cmd: Option<String>,
    /// Entrypoint for a rootfs import.
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Environment for a rootfs import.
    #[arg(long = "env")]
    pub env: Vec<String>,
    /// Working directory for a rootfs import.
    #[arg(long)]
    pub workdir: Option<String>,
    /// The file or directory to import.
    pub source: PathBuf,
    /// NAME[:TAG] for the image (required for --rootfs).
    pub reference: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Create a volume (docker volume create).
    Create {
        /// Volume driver name (only `local`).
        #[arg(short = 'd', long, default_value = "local")]
        driver: String,
        /// Driver specific options (KEY=VALUE).
        #[arg(short = 'o', long = "opt")]
        opts: Vec<String>,
        /// Set metadata (KEY=VALUE).
        #[arg(long = "label")]
        labels: Vec<String>,
        /// The volume's name (default: 64 random hex digits).
        name: Option<String>,
    },
    /// List volumes.
    #[command(alias = "list")]
    Ls {
        /// Only display volume names.
        #[arg(short = 'q', long)]
        quiet: bool,
        /// Filter: dangling=true|false, name=<substring>, driver=<name>, label=<key>[=<value>].
        #[arg(short = 'f', long = "filter")]
        filters: Vec<String>,
    },
    /// Display detailed information on volumes as JSON.
    Inspect {
        #[arg(required = true)]
        volumes: Vec<String>,
    },
    /// Remove volumes (refused while a container uses them).
    #[command(alias = "remove")]
    Rm {
        /// Do not fail on a volume that does not exist.
        #[arg(short = 'f', long)]
        force: bool,
        #[arg(required = true)]
        volumes: Vec<String>,
    },
    /// Remove unused anonymous volumes (all unused ones with --all).
    Prune {
        /// Remove all unused volumes, not just anonymous ones.
        #[arg(short = 'a', long)]
        all: bool,
        /// Do not prompt for confirmation.
        #[arg(short = 'f', long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Remove the bridge (--bridge), its address and rules, if no container uses it.
    Prune {
        /// Remove it even if this root did not make it (a bridge left by a deleted --root).
        #[arg(short = 'f', long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TraceCommand {
    /// Remove recorded traces: the oldest past --keep, those older than --older-than, or --all
    /// (never the trace of a running container).
    Prune {
        /// Keep the newest N.
        #[arg(long, value_name = "N")]
        keep: Option<usize>,
        /// Remove those written longer ago than this (10m, 12h, 7d).
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
        older_than: Option<std::time::Duration>,
        /// Remove them all.
        #[arg(long, conflicts_with_all = ["keep", "older_than"])]
        all: bool,
    },
    /// List recorded traces.
    Ls {
        /// Output: table (default) or json.
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Replay a trace's timeline (TRACE: an id, a unique prefix, `last`, or a path).
    Show {
        trace: String,
        /// Narrate (the lessons under each phase).
        #[arg(long)]
        explain: bool,
        #[arg(long)]
        lang: Option<String>,
    },
    /// Write a flamegraph SVG of span wall time (several traces aggregate).
    Flamegraph {
        /// Trace ids, unique prefixes of them, `last`, or paths.
        #[arg(required = true)]
        traces: Vec<String>,
        /// The SVG file to write.
        #[arg(short = 'o', long = "output", required = true)]
        output: PathBuf,
        /// Keep time order (a flame chart) instead of merging stacks.
        #[arg(long)]
        flamechart: bool,
    },
    /// Print the folded stacks (nanoseconds of self time per stack).
    Folded {
        /// Trace ids, unique prefixes of them, `last`, or paths.
        #[arg(required = true)]
        traces: Vec<String>,
        /// Keep time order instead of merging stacks.
        #[arg(long)]
        flamechart: bool,
    },
    /// Compare two traces phase by phase (and write a differential flamegraph with -o).
    Diff {
        /// The baseline trace (an id, a unique prefix, `last`, or a path).
        a: String,
        /// The trace to compare with it.
        b: String,
        /// A differential flamegraph SVG to write.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
    },
    /// Export a trace: chrome (Perfetto), jaeger (Jaeger UI JSON), speedscope, zipkin (v2 JSON),
    /// otlp-json, folded; or send it to an OTLP collector with --otlp.
    Export {
        /// A trace id, a unique prefix of one, `last`, or a path.
        trace: String,
        /// chrome, jaeger, speedscope, zipkin, otlp-json or folded.
        #[arg(long, required_unless_present = "otlp")]
        format: Option<String>,
        /// The file to write (default: stdout).
        #[arg(short = 'o', long = "output", conflicts_with = "otlp")]
        output: Option<PathBuf>,
        /// Send the trace over OTLP (see OTEL_EXPORTER_OTLP_* for the defaults).
        #[arg(long, conflicts_with = "format")]
        otlp: bool,
        /// The collector's URL (default: OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, then localhost).
        #[arg(long, requires = "otlp")]
        endpoint: Option<String>,
        /// grpc or http/protobuf (default: OTEL_EXPORTER_OTLP_PROTOCOL, then http/protobuf).
        #[arg(long, requires = "otlp")]
        protocol: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// How many containers to run.
    #[arg(short = 'n', long = "runs", default_value_t = 20)]
    pub n: usize,
    /// How many run at once.
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,
    /// Network mode of every container.
    #[arg(long, alias = "net", default_value = "none")]
    pub network: String,
    /// Runtime: embedded or runc.
    #[arg(long, default_value = "embedded")]
    pub runtime: String,
    /// An aggregate flamegraph SVG of all the runs.
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    /// Output: table (default) or json.
    #[arg(long, default_value = "table")]
    pub format: String,
    /// The image to run.
    pub image: String,
    /// The command (default: true).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ShimCmd {
    #[arg(long)]
    pub id: String,
    #[arg(long)]
    pub attach: bool,
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Print the simulated host: processes and namespaces, mount tables, cgroups, network,
    /// iptables rules (PART: all, processes, mounts, cgroups, network, iptables).
    Host {
        #[arg(default_value = "all")]
        part: String,
    },
    /// Print the latency model the simulator draws from: per phase, how many recorded spans it
    /// was fitted on, its median duration (what `bench --sim` reproduces) and its median own
    /// time (its duration less its children's).
    Model {
        /// table or json.
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Fetch a URL from the simulated host, as `curl` would from the real one: a published port
    /// (`http://localhost:8080/`) goes through its DNAT rule to the container listening there.
    Curl { url: String },
    /// List the guided failure scenarios.
    Scenarios {
        #[arg(long, default_value = "en")]
        lang: String,
    },
    /// Play a guided scenario: narration, the commands run against the simulated host, the
    /// lessons involved, and what to check.
    Scenario {
        name: String,
        #[arg(long, default_value = "en")]
        lang: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum BookCommand {
    /// Generate the mdBook source tree from the lessons and the recorded traces.
    Build {
        /// Where to write the book.
        #[arg(long, default_value = "book")]
        out: std::path::PathBuf,
        /// Language of the book: en or zh.
        #[arg(long, default_value = "en")]
        lang: String,
        /// The recorded traces to take timelines and flamegraphs from.
        #[arg(long, default_value = "traces")]
        traces: std::path::PathBuf,
    },
}
