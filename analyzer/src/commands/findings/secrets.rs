//! Indicators in environments and command lines: library preloading, exposed secrets.

use super::{detail, in_writable_dir, Finding, Severity};
use crate::escape::escape_bytes;
use crate::redact::{self, Redactor, SecretForm};
use crate::snapshot::process::Process;
use crate::snapshot::HostSnapshot;

/// `ld_preload` at host level: `/etc/ld.so.preload` exists (pid 0). High when it lists a
/// library, low when it exists but lists nothing.
pub fn host(snap: &HostSnapshot) -> Vec<Finding> {
    let Some(f) = snap
        .host_file("/etc/ld.so.preload")
        .filter(|f| f.error.is_none())
    else {
        return Vec::new();
    };
    let libs: Vec<String> = f
        .content
        .split(|b| b.is_ascii_whitespace() || *b == b':')
        .filter(|l| !l.is_empty())
        .map(escape_bytes)
        .collect();
    let (severity, evidence) = if libs.is_empty() {
        (
            Severity::Low,
            "/etc/ld.so.preload exists and lists nothing".to_string(),
        )
    } else {
        (
            Severity::High,
            format!("/etc/ld.so.preload lists {}", libs.join(" ")),
        )
    };
    vec![Finding {
        indicator: "ld_preload",
        pid: 0,
        process: None,
        container: None,
        severity,
        evidence,
        detail: detail("ld_preload"),
    }]
}

/// `ld_preload` per process: a non-empty `LD_PRELOAD` (medium), or an `LD_LIBRARY_PATH`
/// with an entry that lets others plant libraries (low): empty or relative (the working
/// directory) or under a world-writable directory. Any other `LD_LIBRARY_PATH` is ordinary
/// configuration (cargo, CUDA images, Java and Oracle installs set it) and does not fire.
/// The value is redacted like every environment value; the preloaded libraries that are
/// mapped are quoted from `maps`, which shows them without revealing the environment.
pub fn ld_preload(p: &Process, redactor: &Redactor) -> Vec<Finding> {
    let mut out = Vec::new();
    for var in &p.environ {
        let Some(value) = var.value.as_deref() else {
            continue;
        };
        let shown = format!(
            "environ: {}={}",
            escape_bytes(&var.name),
            escape_bytes(&redactor.env_value(value))
        );
        let (severity, evidence) = match var.name.as_slice() {
            b"LD_PRELOAD" if !value.trim_ascii().is_empty() => {
                let mapped = mapped_libraries(p, value);
                if mapped.is_empty() {
                    (Severity::Medium, shown)
                } else {
                    (
                        Severity::Medium,
                        format!("{shown}; mapped: {}", mapped.join(" ")),
                    )
                }
            }
            b"LD_LIBRARY_PATH" => match risky_search_path(value) {
                Some(why) => (Severity::Low, format!("{shown} ({why})")),
                None => continue,
            },
            _ => continue,
        };
        out.push(Finding::on(p, "ld_preload", severity, evidence));
    }
    out
}

/// Why a library search path lets someone else plant a library, if it does. The loader
/// splits it on `:` and `;`, and reads an empty entry as the working directory.
fn risky_search_path(value: &[u8]) -> Option<&'static str> {
    let entries: Vec<&[u8]> = value.split(|b| *b == b':' || *b == b';').collect();
    if entries.iter().any(|e| e.is_empty() || !e.starts_with(b"/")) {
        Some("an entry is empty or relative: libraries load from the working directory")
    } else if entries.iter().any(|e| in_writable_dir(e)) {
        Some("an entry is under /tmp, /var/tmp or /dev/shm")
    } else {
        None
    }
}

/// Executable mappings whose path is one of the preload list's entries.
fn mapped_libraries(p: &Process, preload: &[u8]) -> Vec<String> {
    let Some(maps) = &p.maps else {
        return Vec::new();
    };
    let wanted: Vec<&[u8]> = preload
        .split(|b| *b == b':' || b.is_ascii_whitespace())
        .filter(|e| !e.is_empty())
        .collect();
    maps.exec_paths
        .iter()
        .filter(|path| {
            let path = path.strip_suffix(b" (deleted)").unwrap_or(path);
            wanted.contains(&path)
        })
        .map(|p| escape_bytes(p))
        .collect()
}

/// `secret_in_env`: a variable whose name looks secret, or whose value holds URL
/// credentials. Evidence is the name and the redacted value (the value only with
/// `--show-secrets`).
pub fn secret_in_env(p: &Process, redactor: &Redactor) -> Vec<Finding> {
    p.environ
        .iter()
        .filter_map(|var| {
            let value = var.value.as_deref()?;
            let by_name = redact::is_secret_env_name(&var.name);
            if !by_name && redact::url_credentials(value).is_empty() {
                return None;
            }
            let why = if by_name {
                ""
            } else {
                " (the value holds URL credentials)"
            };
            let evidence = format!(
                "environ: {}={}{why}",
                escape_bytes(&var.name),
                escape_bytes(&redactor.env_value(value))
            );
            Some(Finding::on(p, "secret_in_env", Severity::Low, evidence))
        })
        .collect()
}

/// `secret_on_cmdline`: the redaction rules found a secret value in argv. Evidence is the
/// argument (and its flag, for `--flag VALUE`) with the value redacted.
pub fn secret_on_cmdline(p: &Process, redactor: &Redactor) -> Vec<Finding> {
    let shown = redactor.argv(&p.argv);
    redact::cmdline_secrets(&p.argv)
        .into_iter()
        .map(|s| {
            let arg = escape_bytes(shown.get(s.index).map_or(&[][..], Vec::as_slice));
            let evidence = match s.form {
                SecretForm::FlagSeparate => format!(
                    "argv[{}..={}]: {} {arg}",
                    s.index.saturating_sub(1),
                    s.index,
                    escape_bytes(&s.name)
                ),
                _ => format!("argv[{}]: {arg}", s.index),
            };
            Finding::on(p, "secret_on_cmdline", Severity::Medium, evidence)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_search_paths_others_can_plant_in_are_risky() {
        for ok in [
            &b"/usr/lib"[..],
            b"/opt/a/lib:/usr/local/cuda/lib64",
            b"/tmpfs/lib",
        ] {
            assert_eq!(risky_search_path(ok), None, "{ok:?}");
        }
        for bad in [
            &b""[..],
            b"/usr/lib:",
            b":/usr/lib",
            b"/a::/b",
            b"lib",
            b"/usr/lib;./x",
        ] {
            assert!(
                risky_search_path(bad)
                    .unwrap()
                    .contains("working directory"),
                "{bad:?}"
            );
        }
        for bad in [&b"/tmp"[..], b"/usr/lib:/dev/shm/x", b"/var/tmp/l"] {
            assert!(
                risky_search_path(bad).unwrap().contains("/dev/shm"),
                "{bad:?}"
            );
        }
    }
}
