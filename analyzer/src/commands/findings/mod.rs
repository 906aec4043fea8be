//! `rhf-analyze findings`: indicators of compromise in the snapshot (rules: docs/FINDINGS.md).

mod exec;
mod network;
mod secrets;

use serde::Serialize;

use super::table;
use crate::escape::escape_bytes;
use crate::redact::Redactor;
use crate::snapshot::process::Process;
use crate::snapshot::HostSnapshot;

/// How much a finding should worry the analyst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

/// Directories any user can write to, where droppers put their payloads.
const WRITABLE_DIRS: [&[u8]; 3] = [b"/tmp/", b"/var/tmp/", b"/dev/shm/"];

/// `path` lies under `/tmp`, `/var/tmp` or `/dev/shm`.
fn in_writable_dir(path: &[u8]) -> bool {
    WRITABLE_DIRS
        .iter()
        .any(|d| path.starts_with(d) || path == &d[..d.len() - 1])
}

/// One indicator found on one process (or on the host: pid 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The indicator id (`deleted_exe`, `reverse_shell`...).
    pub indicator: &'static str,
    pub pid: u32,
    /// The process's `comm`; `null` for a host-level finding.
    pub process: Option<String>,
    /// First 12 hex digits of the container id; `null` on the host.
    pub container: Option<String>,
    pub severity: Severity,
    /// What in the snapshot shows it, escaped, secrets redacted.
    pub evidence: String,
    /// Why it matters and what else could explain it.
    pub detail: &'static str,
}

impl Finding {
    fn on(p: &Process, indicator: &'static str, severity: Severity, evidence: String) -> Self {
        Finding {
            indicator,
            pid: p.pid,
            process: Some(escape_bytes(&p.comm)),
            container: p.container_id().map(str::to_string),
            severity,
            evidence,
            detail: detail(indicator),
        }
    }
}

/// Every finding, sorted by pid, indicator, then evidence.
pub fn collect(snap: &HostSnapshot, redactor: &Redactor) -> Vec<Finding> {
    let mut out = secrets::host(snap);
    for p in snap.processes.values() {
        out.extend(exec::deleted_exe(snap, p));
        out.extend(exec::memfd_exec(p));
        out.extend(exec::exec_from_writable_dir(p));
        out.extend(exec::fake_kernel_thread(p));
        out.extend(network::reverse_shell(snap, p));
        out.extend(network::special_sockets(snap, p));
        out.extend(secrets::ld_preload(p, redactor));
        out.extend(secrets::secret_in_env(p, redactor));
        out.extend(secrets::secret_on_cmdline(p, redactor));
    }
    out.sort_by(|a, b| (a.pid, a.indicator, &a.evidence).cmp(&(b.pid, b.indicator, &b.evidence)));
    out
}

fn detail(indicator: &str) -> &'static str {
    match indicator {
        "deleted_exe" => "the program's file was deleted or replaced after it started; malware often deletes its binary. Package upgrades also cause this: compare the hash with the package's",
        "memfd_exec" => "code runs from an anonymous memory file (memfd) and never touched the disk: fileless execution",
        "ld_preload" => "libraries forced into processes by the dynamic loader can hook any function (user-land rootkits, credential stealers)",
        "reverse_shell" => "an interpreter's standard input or output is a connected socket: the shape of a reverse shell",
        "packet_socket" => "a packet socket sees raw frames (sniffers, BPF-triggered backdoors); DHCP clients and tcpdump use them too",
        "raw_socket" => "a raw IP socket can sniff or forge packets and hide backdoor triggers (ICMP); ping-like tools use them too",
        "fake_kernel_thread" => "a user-space process shows a bracketed name to pass for a kernel thread in ps output",
        "exec_from_writable_dir" => "the executable lives in a world-writable temporary directory, a common drop location",
        "secret_in_env" => "a credential in the environment is readable through /proc by the same user and root, and inherited by children",
        "secret_on_cmdline" => "a credential on the command line is readable by every local user through /proc/PID/cmdline (unless hidepid)",
        _ => "",
    }
}

/// The table: PID PROCESS CONTAINER SEVERITY INDICATOR EVIDENCE.
pub fn render_table(findings: &[Finding]) -> String {
    let mut t = table::plain(&[
        "PID",
        "PROCESS",
        "CONTAINER",
        "SEVERITY",
        "INDICATOR",
        "EVIDENCE",
    ]);
    for f in findings {
        t.add_row(vec![
            f.pid.to_string(),
            f.process.clone().unwrap_or_else(|| "(host)".into()),
            f.container.clone().unwrap_or_else(|| "-".into()),
            f.severity.name().to_string(),
            f.indicator.to_string(),
            f.evidence.clone(),
        ]);
    }
    table::render(&t)
}
