//! `/proc/PID/status`: credentials, capabilities and the other identity fields.

use procfs_core::FromBufRead;
use serde::Serialize;

/// Real, effective, saved and filesystem ids, in the kernel's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IdSet {
    pub real: u32,
    pub effective: u32,
    pub saved: u32,
    pub fs: u32,
}

/// Capability sets as 64-bit masks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Capabilities {
    pub inheritable: u64,
    pub permitted: u64,
    pub effective: u64,
    pub bounding: Option<u64>,
    pub ambient: Option<u64>,
}

/// What `status` told; every field may be missing when the file was cut or malformed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusFacts {
    pub tgid: Option<u32>,
    pub ppid: Option<u32>,
    pub tracer_pid: Option<u32>,
    pub uids: Option<IdSet>,
    pub gids: Option<IdSet>,
    pub caps: Option<Capabilities>,
    pub no_new_privs: Option<bool>,
    pub seccomp: Option<u32>,
    pub threads: Option<u64>,
}

/// Parses `status` with procfs-core. procfs-core rejects the whole file when one expected
/// line is missing (a cut file) or the name is not UTF-8; the identity fields matter too
/// much to lose, so in that case they are read line by line and the error is returned as a
/// note beside them.
pub fn parse(content: &[u8]) -> (StatusFacts, Option<String>) {
    // The name line may hold any bytes; procfs-core reads lines as UTF-8.
    let text = String::from_utf8_lossy(content);
    match procfs_core::process::Status::from_buf_read(text.as_bytes()) {
        Ok(s) => (
            StatusFacts {
                tgid: u32::try_from(s.tgid).ok(),
                ppid: u32::try_from(s.ppid).ok(),
                tracer_pid: u32::try_from(s.tracerpid).ok(),
                uids: Some(IdSet {
                    real: s.ruid,
                    effective: s.euid,
                    saved: s.suid,
                    fs: s.fuid,
                }),
                gids: Some(IdSet {
                    real: s.rgid,
                    effective: s.egid,
                    saved: s.sgid,
                    fs: s.fgid,
                }),
                caps: Some(Capabilities {
                    inheritable: s.capinh,
                    permitted: s.capprm,
                    effective: s.capeff,
                    bounding: s.capbnd,
                    ambient: s.capamb,
                }),
                no_new_privs: s.nonewprivs.map(|v| v != 0),
                seccomp: s.seccomp,
                threads: Some(s.threads),
            },
            None,
        ),
        Err(e) => (
            parse_lines(&text),
            Some(format!("status: {e}; fields read line by line")),
        ),
    }
}

/// The fallback: each `Key:\tvalue` line on its own, so a cut file keeps its first lines.
fn parse_lines(text: &str) -> StatusFacts {
    let mut f = StatusFacts::default();
    let mut caps = [None; 5];
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        let num = || value.parse::<u32>().ok();
        let hex = || u64::from_str_radix(value, 16).ok();
        match key {
            "Tgid" => f.tgid = num(),
            "PPid" => f.ppid = num(),
            "TracerPid" => f.tracer_pid = num(),
            "Uid" => f.uids = id_set(value),
            "Gid" => f.gids = id_set(value),
            "NoNewPrivs" => f.no_new_privs = num().map(|v| v != 0),
            "Seccomp" => f.seccomp = num(),
            "Threads" => f.threads = value.parse().ok(),
            "CapInh" => caps[0] = hex(),
            "CapPrm" => caps[1] = hex(),
            "CapEff" => caps[2] = hex(),
            "CapBnd" => caps[3] = hex(),
            "CapAmb" => caps[4] = hex(),
            _ => {}
        }
    }
    if let [Some(inheritable), Some(permitted), Some(effective), bounding, ambient] = caps {
        f.caps = Some(Capabilities {
            inheritable,
            permitted,
            effective,
            bounding,
            ambient,
        });
    }
    f
}

fn id_set(value: &str) -> Option<IdSet> {
    let ids: Vec<u32> = value
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    match ids[..] {
        [real, effective, saved, fs] => Some(IdSet {
            real,
            effective,
            saved,
            fs,
        }),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A real `status` of an interactive bash (kernel 6.8), uid 1000.
    pub(crate) const BASH_STATUS: &str = "Name:\tbash\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t900\nNgid:\t0\nPid:\t900\nPPid:\t812\nTracerPid:\t0\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\nFDSize:\t256\nGroups:\t4 24 27 1000 \nNStgid:\t900\nNSpid:\t900\nNSpgid:\t900\nNSsid:\t900\nKthread:\t0\nVmPeak:\t    8868 kB\nVmSize:\t    8868 kB\nVmLck:\t       0 kB\nVmPin:\t       0 kB\nVmHWM:\t    5120 kB\nVmRSS:\t    5120 kB\nRssAnon:\t    1792 kB\nRssFile:\t    3328 kB\nRssShmem:\t       0 kB\nVmData:\t    1960 kB\nVmStk:\t     132 kB\nVmExe:\t     892 kB\nVmLib:\t    1864 kB\nVmPTE:\t      56 kB\nVmSwap:\t       0 kB\nHugetlbPages:\t       0 kB\nCoreDumping:\t0\nTHP_enabled:\t1\nuntag_mask:\t0xffffffffffffffff\nThreads:\t1\nSigQ:\t0/62811\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\nSigBlk:\t0000000000010000\nSigIgn:\t0000000000380004\nSigCgt:\t000000004b817efb\nCapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\nNoNewPrivs:\t0\nSeccomp:\t0\nSeccomp_filters:\t0\nSpeculation_Store_Bypass:\tthread vulnerable\nSpeculationIndirectBranch:\tconditional enabled\nCpus_allowed:\t3\nCpus_allowed_list:\t0-1\nMems_allowed:\t00000000,00000001\nMems_allowed_list:\t0\nvoluntary_ctxt_switches:\t153\nnonvoluntary_ctxt_switches:\t12\n";

    #[test]
    fn a_real_status_parses_fully() {
        let (f, note) = parse(BASH_STATUS.as_bytes());
        assert_eq!(note, None);
        assert_eq!(f.ppid, Some(812));
        assert_eq!(f.uids.map(|u| u.effective), Some(1000));
        assert_eq!(f.caps.and_then(|c| c.bounding), Some(0x1ff_ffff_ffff));
        assert_eq!(f.no_new_privs, Some(false));
    }

    #[test]
    fn a_cut_status_keeps_its_first_lines_and_says_why() {
        let cut = &BASH_STATUS.as_bytes()[..BASH_STATUS.find("FDSize").unwrap()];
        let (f, note) = parse(cut);
        assert!(note.unwrap().starts_with("status: "));
        assert_eq!(f.uids.map(|u| u.real), Some(1000));
        assert_eq!(f.ppid, Some(812));
        assert_eq!(f.caps, None);
    }

    #[test]
    fn every_prefix_and_garbage_parse_without_panicking() {
        for cut in 0..BASH_STATUS.len() {
            let _ = parse(&BASH_STATUS.as_bytes()[..cut]);
        }
        let (f, _) = parse(b"Name:\t\xff\xfe\nUid:\t1 2 3\nGid:\tx x x x\n\0\0");
        assert_eq!(f.uids, None);
        assert_eq!(f.gids, None);
    }
}
