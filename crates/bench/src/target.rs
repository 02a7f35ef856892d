//! The server under load: found at `--url`, or spawned (`confab serve` on 127.0.0.1:0 with a
//! temporary data dir, pinned with `taskset`), and its CPU time and memory read from `/proc`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};
use serde::Serialize;

use crate::TargetArgs;

/// Settings every spawned server gets: the per-device rate limit and the per-address
/// registration throttle (every benchmark user registers from this one address) are lifted so the
/// benchmark measures the server, not its limiters.
pub const SPAWN_FLAGS: &[&str] = &[
    "--messages-per-second",
    "1000000",
    "--message-burst",
    "1000000",
    "--registrations-per-address",
    "1000000",
];

/// The server(s) a scenario talks to.
pub struct ServerHandle {
    pub urls: Vec<String>,
    /// The server process whose CPU and memory are measured, when known.
    pub pid: Option<u32>,
    /// What is recorded in the report about the server.
    pub info: ServerInfo,
    child: Option<Child>,
    _data_dir: Option<tempfile::TempDir>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerInfo {
    pub urls: Vec<String>,
    pub pid: Option<u32>,
    pub spawned: bool,
    /// The command line of a spawned server.
    pub command: Option<String>,
    pub pinned_cpus: Option<String>,
}

impl ServerHandle {
    /// Uses `--url` or spawns a server with `extra` flags (on top of [`SPAWN_FLAGS`]).
    pub fn prepare(args: &TargetArgs, extra: &[String]) -> anyhow::Result<ServerHandle> {
        if args.spawn_server {
            return Self::spawn(args, extra);
        }
        if args.urls.is_empty() {
            bail!("give the server's --url (and --server-pid to measure it), or --spawn-server");
        }
        let urls: Vec<String> = args.urls.iter().map(|u| u.trim_end_matches('/').to_string()).collect();
        let info = ServerInfo {
            urls: urls.clone(),
            pid: args.server_pid,
            spawned: false,
            command: None,
            pinned_cpus: None,
        };
        Ok(ServerHandle { urls, pid: args.server_pid, info, child: None, _data_dir: None })
    }

    fn spawn(args: &TargetArgs, extra: &[String]) -> anyhow::Result<ServerHandle> {
        if !matches!(args.system, crate::peers::SystemKind::Confab) {
            bail!("--spawn-server starts Confab; start peers with bench/peers/run.sh and pass --url");
        }
        let bin = match &args.confab_bin {
            Some(bin) => bin.clone(),
            None => std::env::current_exe().context("locating the confab binary")?,
        };
        let dir = match &args.data_parent {
            Some(parent) => tempfile::Builder::new().prefix("confab-bench-").tempdir_in(parent)?,
            None => tempfile::Builder::new().prefix("confab-bench-").tempdir()?,
        };
        let mut serve: Vec<String> = vec![
            "serve".into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--data-dir".into(),
            dir.path().display().to_string(),
            "--log".into(),
            "warn".into(),
        ];
        serve.extend(SPAWN_FLAGS.iter().map(|s| s.to_string()));
        serve.extend(extra.iter().cloned());
        serve.extend(args.server_args.iter().cloned());
        let pinned = !args.server_cpus.is_empty() && which("taskset").is_some();
        let mut command = if pinned {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(&args.server_cpus).arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        command.args(&serve).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit());
        let shown = format!(
            "{}{} {}",
            if pinned { format!("taskset -c {} ", args.server_cpus) } else { String::new() },
            bin.display(),
            serve.join(" ")
        );
        let mut child = command.spawn().with_context(|| format!("spawning {shown}"))?;
        let stdout = child.stdout.take().context("server stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            for line in lines.by_ref().map_while(Result::ok) {
                if let Some(url) = line.trim().strip_prefix("confab listening on ") {
                    let _ = tx.send(url.to_string());
                    break;
                }
            }
            // Keep draining so the server never blocks on a full pipe.
            for _ in lines.map_while(Result::ok) {}
        });
        let url = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                bail!("the spawned server did not print its address: {shown}");
            }
        };
        // taskset execs the server, so the child's pid is the server's.
        let pid = child.id();
        let info = ServerInfo {
            urls: vec![url.clone()],
            pid: Some(pid),
            spawned: true,
            command: Some(shown),
            pinned_cpus: pinned.then(|| args.server_cpus.clone()),
        };
        Ok(ServerHandle { urls: vec![url], pid: Some(pid), info, child: Some(child), _data_dir: Some(dir) })
    }

    pub fn url(&self) -> &str {
        &self.urls[0]
    }

    /// The `i`th URL, wrapping around (one URL serves every role).
    pub fn url_at(&self, i: usize) -> &str {
        &self.urls[i % self.urls.len()]
    }

    pub fn sample(&self) -> Option<ProcSample> {
        self.pid.and_then(ProcSample::read)
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            // SIGTERM for a graceful stop, then wait briefly; SIGKILL if it does not go.
            let pid = child.id() as libc::pid_t;
            // SAFETY: signalling our own child process by pid.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            for _ in 0..50 {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| p.is_file())
}

/// CPU time and resident memory of a process at one moment.
#[derive(Debug, Clone, Copy)]
pub struct ProcSample {
    /// utime + stime, in seconds.
    pub cpu_secs: f64,
    /// VmRSS in KiB.
    pub rss_kib: u64,
}

impl ProcSample {
    pub fn read(pid: u32) -> Option<ProcSample> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name may contain spaces; fields resume after its closing parenthesis.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // After ')' the first field is `state` (field 3); utime is field 14, stime 15.
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        // SAFETY: sysconf has no preconditions.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let rss_kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())?;
        Some(ProcSample { cpu_secs: (utime + stime) as f64 / ticks, rss_kib })
    }
}

/// What the kernel holds for the whole machine at one moment: slab objects (sockets, their
/// inodes, files, epoll entries) and TCP socket buffers. Loopback connections have both ends
/// here, so a difference divided by connections is the cost of a pair of sockets.
#[derive(Debug, Clone, Copy)]
pub struct KernelSample {
    /// `Slab:` of /proc/meminfo, in KiB.
    pub slab_kib: u64,
    /// The `mem` of /proc/net/sockstat's `TCP:` line (pages), in KiB.
    pub tcp_buffers_kib: u64,
}

impl KernelSample {
    pub fn read() -> Option<KernelSample> {
        let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
        let sockstat = std::fs::read_to_string("/proc/net/sockstat").ok()?;
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as u64;
        KernelSample::parse(&meminfo, &sockstat, page)
    }

    fn parse(meminfo: &str, sockstat: &str, page_bytes: u64) -> Option<KernelSample> {
        let slab_kib = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("Slab:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())?;
        let tcp_pages: u64 = sockstat
            .lines()
            .find_map(|l| l.strip_prefix("TCP:"))
            .and_then(|l| l.split_whitespace().skip_while(|w| *w != "mem").nth(1))
            .and_then(|v| v.parse().ok())?;
        Some(KernelSample { slab_kib, tcp_buffers_kib: tcp_pages * page_bytes / 1024 })
    }
}

/// The machine the run happened on.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Machine {
    pub nproc: usize,
    pub cpu_model: String,
    pub mem_total_kib: u64,
    pub kernel: String,
}

impl Machine {
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map(|m| m.trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_total_kib = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        // Every CPU of the machine, not only those this (possibly pinned) process may use.
        let nproc = cpuinfo.lines().filter(|l| l.starts_with("processor")).count().max(1);
        Machine { nproc, cpu_model, mem_total_kib, kernel }
    }
}

/// Pins this process to a CPU list such as `1` or `0-1,3`.
pub fn pin_self(cpus: &str) -> anyhow::Result<()> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET and sched_setaffinity get valid pointers.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for cpu in parse_cpu_list(cpus)? {
            libc::CPU_SET(cpu, &mut set);
        }
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            bail!("sched_setaffinity({cpus}): {}", std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn parse_cpu_list(list: &str) -> anyhow::Result<Vec<usize>> {
    let mut cpus = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => cpus.extend(a.parse::<usize>()?..=b.parse::<usize>()?),
            None => cpus.push(part.parse()?),
        }
    }
    Ok(cpus)
}

/// This process's soft open-files limit.
pub fn nofile_limit() -> Option<u64> {
    // SAFETY: getrlimit with a valid rlimit struct.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        (libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0).then_some(lim.rlim_cur as u64)
    }
}

/// Raises the open-files limit as far as allowed (up to 1 << 20): the connections scenario needs
/// one descriptor per connection, and a spawned server inherits the limit.
pub fn raise_nofile_limit() {
    // SAFETY: getrlimit/setrlimit with a valid rlimit struct.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return;
        }
        let want: libc::rlim_t = 1 << 20;
        let raised = libc::rlimit { rlim_cur: want.max(lim.rlim_cur), rlim_max: want.max(lim.rlim_max) };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
            // Not privileged: the soft limit can still go up to the hard one.
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_slab_and_tcp_buffer_memory() {
        let meminfo = "MemTotal:       24000000 kB\nSlab:             123456 kB\nSReclaimable:   1 kB\n";
        let sockstat = "sockets: used 41\nTCP: inuse 18 orphan 0 tw 3 alloc 21 mem 227\nUDP: inuse 0 mem 9\n";
        let k = KernelSample::parse(meminfo, sockstat, 4096).expect("parsed");
        assert_eq!(k.slab_kib, 123_456);
        assert_eq!(k.tcp_buffers_kib, 908);
        assert!(KernelSample::parse("", sockstat, 4096).is_none());
    }

    #[test]
    fn cpu_lists_parse() {
        assert_eq!(parse_cpu_list("0").unwrap(), vec![0]);
        assert_eq!(parse_cpu_list("0-2,5").unwrap(), vec![0, 1, 2, 5]);
        assert!(parse_cpu_list("x").is_err());
    }

    #[test]
    fn own_process_is_readable() {
        let s = ProcSample::read(std::process::id()).unwrap();
        assert!(s.rss_kib > 0);
        assert!(s.cpu_secs >= 0.0);
    }
}
