//! Signal names and `si_code` names, spelled as strace spells them.

const NAMES: [&str; 32] = [
    "SIG_0",
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

/// The kernel's first real-time signal; strace names 32 `SIGRTMIN` and the rest `SIGRT_n`.
const SIGRTMIN: i32 = 32;
const SIGRTMAX: i32 = 64;

/// `SIGKILL`, `SIGRT_3`; a number outside the kernel's range prints as the number.
pub fn signal_name(signo: i32) -> String {
    match usize::try_from(signo).ok().and_then(|i| NAMES.get(i)) {
        Some(name) => (*name).to_string(),
        None if signo == SIGRTMIN => "SIGRTMIN".to_string(),
        None if (SIGRTMIN..=SIGRTMAX).contains(&signo) => format!("SIGRT_{}", signo - SIGRTMIN),
        None => signo.to_string(),
    }
}

/// The name of `si_code` for a signal: the generic codes (`SI_USER`, `SI_KERNEL`...) and the
/// per-signal ones (`CLD_EXITED`, `SEGV_MAPERR`...); an unknown code prints as its number.
pub fn si_code_name(signo: i32, code: i32) -> String {
    let generic = match code {
        0 => Some("SI_USER"),
        0x80 => Some("SI_KERNEL"),
        -1 => Some("SI_QUEUE"),
        -2 => Some("SI_TIMER"),
        -3 => Some("SI_MESGQ"),
        -4 => Some("SI_ASYNCIO"),
        -5 => Some("SI_SIGIO"),
        -6 => Some("SI_TKILL"),
        -7 => Some("SI_DETHREAD"),
        -60 => Some("SI_ASYNCNL"),
        _ => None,
    };
    if let Some(name) = generic {
        return name.to_string();
    }
    let specific: &[&str] = match signo {
        4 => &[
            "ILL_ILLOPC",
            "ILL_ILLOPN",
            "ILL_ILLADR",
            "ILL_ILLTRP",
            "ILL_PRVOPC",
            "ILL_PRVREG",
            "ILL_COPROC",
            "ILL_BADSTK",
            "ILL_BADIADDR",
        ],
        5 => &[
            "TRAP_BRKPT",
            "TRAP_TRACE",
            "TRAP_BRANCH",
            "TRAP_HWBKPT",
            "TRAP_UNK",
            "TRAP_PERF",
        ],
        7 => &[
            "BUS_ADRALN",
            "BUS_ADRERR",
            "BUS_OBJERR",
            "BUS_MCEERR_AR",
            "BUS_MCEERR_AO",
        ],
        8 => &[
            "FPE_INTDIV",
            "FPE_INTOVF",
            "FPE_FLTDIV",
            "FPE_FLTOVF",
            "FPE_FLTUND",
            "FPE_FLTRES",
            "FPE_FLTINV",
            "FPE_FLTSUB",
            "FPE_FLTUNK",
            "FPE_CONDTRAP",
        ],
        11 => &[
            "SEGV_MAPERR",
            "SEGV_ACCERR",
            "SEGV_BNDERR",
            "SEGV_PKUERR",
            "SEGV_ACCADI",
            "SEGV_ADIDERR",
            "SEGV_ADIPERR",
            "SEGV_MTEAERR",
            "SEGV_MTESERR",
            "SEGV_CPERR",
        ],
        17 => &[
            "CLD_EXITED",
            "CLD_KILLED",
            "CLD_DUMPED",
            "CLD_TRAPPED",
            "CLD_STOPPED",
            "CLD_CONTINUED",
        ],
        29 => &[
            "POLL_IN", "POLL_OUT", "POLL_MSG", "POLL_ERR", "POLL_PRI", "POLL_HUP",
        ],
        31 => &["SYS_SECCOMP", "SYS_USER_DISPATCH"],
        _ => &[],
    };
    usize::try_from(code)
        .ok()
        .and_then(|c| c.checked_sub(1))
        .and_then(|i| specific.get(i))
        .map_or_else(|| code.to_string(), |n| (*n).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(signal_name(9), "SIGKILL");
        assert_eq!(signal_name(0), "SIG_0");
        assert_eq!(signal_name(32), "SIGRTMIN");
        assert_eq!(signal_name(35), "SIGRT_3");
        assert_eq!(signal_name(99), "99");
        assert_eq!(signal_name(-1), "-1");
        assert_eq!(si_code_name(17, 1), "CLD_EXITED");
        assert_eq!(si_code_name(11, 2), "SEGV_ACCERR");
        assert_eq!(si_code_name(15, 0), "SI_USER");
        assert_eq!(si_code_name(15, -6), "SI_TKILL");
        assert_eq!(si_code_name(15, 7), "7");
    }
}
