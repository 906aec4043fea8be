use std::collections::HashSet;

use super::class::*;
use super::*;

#[test]
fn names_and_numbers_agree() {
    assert_eq!(name(Abi::X86_64, 257), Some("openat"));
    assert_eq!(name(Abi::I386, 5), Some("open"));
    assert_eq!(number(Abi::X86_64, "openat"), Some(257));
    assert_eq!(number(Abi::X86_64, "lsm_list_modules"), Some(461));
    assert_eq!(name(Abi::I386, 17), Some("break"));
    assert_eq!(spec(Abi::X86_64, 0).map(|s| s.name), Some("read"));
    assert_eq!(name(Abi::X86_64, 100_000), None);
    assert_eq!(spec(Abi::X86_64, 100_000), None);
    assert_eq!(
        spec(Abi::X32, 257 | (1 << 30)).map(|s| s.name),
        Some("openat")
    );
}

#[test]
fn every_x86_64_syscall_has_a_spec() {
    let missing: Vec<&str> = numbers(Abi::X86_64)
        .filter(|nr| spec(Abi::X86_64, *nr).is_none())
        .filter_map(|nr| name(Abi::X86_64, nr))
        .collect();
    assert!(numbers(Abi::X86_64).count() > 370);
    assert!(missing.is_empty(), "no spec for {missing:?}");
}

#[test]
fn every_i386_syscall_has_a_spec() {
    let missing: Vec<&str> = numbers(Abi::I386)
        .filter(|nr| spec(Abi::I386, *nr).is_none())
        .filter_map(|nr| name(Abi::I386, nr))
        .collect();
    assert!(missing.is_empty(), "no spec for {missing:?}");
}

#[test]
fn table_names_are_real_and_unique() {
    let x64: HashSet<&str> = numbers(Abi::X86_64)
        .filter_map(|nr| name(Abi::X86_64, nr))
        .collect();
    let x86: HashSet<&str> = numbers(Abi::I386)
        .filter_map(|nr| name(Abi::I386, nr))
        .collect();
    let mut seen = HashSet::new();
    for s in x86_64_table() {
        assert!(x64.contains(s.name), "{} is not an x86_64 syscall", s.name);
        assert!(seen.insert(s.name), "{} twice in the x86_64 table", s.name);
    }
    let mut seen = HashSet::new();
    for s in table_i386::TABLE {
        assert!(x86.contains(s.name), "{} is not an i386 syscall", s.name);
        assert!(seen.insert(s.name), "{} twice in the i386 table", s.name);
    }
}

#[test]
fn argument_specs_are_consistent() {
    for s in x86_64_table().chain(table_i386::TABLE) {
        assert!(s.args.len() <= 6, "{}: {} args", s.name, s.args.len());
        for (i, arg) in s.args.iter().enumerate() {
            let len = match arg.kind {
                ArgKind::BufIn { len }
                | ArgKind::IovecIn { len }
                | ArgKind::SockaddrIn { len }
                | ArgKind::SockaddrOut { len } => len,
                _ => continue,
            };
            let target = s.args.get(usize::from(len)).map(|a| a.kind);
            let ok = match arg.kind {
                // The length of an output sockaddr is behind a pointer.
                ArgKind::SockaddrOut { .. } => target == Some(ArgKind::Ptr),
                _ => matches!(target, Some(ArgKind::Uint | ArgKind::Int)),
            };
            assert!(ok, "{} arg {i}: length index {len} is {target:?}", s.name);
        }
        for (i, arg) in s.args.iter().enumerate() {
            if arg.kind == ArgKind::IovecOut {
                assert_eq!(
                    s.args.get(i + 1).map(|a| a.kind),
                    Some(ArgKind::Int),
                    "{}",
                    s.name
                );
            }
        }
        // Paths of *at calls resolve against the DirFd just before them.
        for (i, arg) in s.args.iter().enumerate() {
            if arg.kind == ArgKind::DirFd {
                assert_eq!(
                    s.args.get(i + 1).map(|a| a.kind),
                    Some(ArgKind::Path),
                    "{}",
                    s.name
                );
            }
        }
    }
}

fn classes(name: &str) -> u32 {
    spec_by_name(name).map(|s| s.classes).unwrap_or(u32::MAX)
}

#[test]
fn classes_spot_checks() {
    assert_eq!(classes("openat"), FILE | DESC);
    assert_eq!(classes("open"), FILE | DESC);
    assert_eq!(classes("connect"), NETWORK);
    assert_eq!(classes("execve"), FILE | PROCESS);
    assert_eq!(classes("execveat"), FILE | PROCESS | DESC);
    assert_eq!(classes("mmap"), MEMORY | DESC);
    assert_eq!(classes("kill"), SIGNAL | PROCESS);
    assert_eq!(classes("setuid"), CREDS);
    assert_eq!(classes("read"), DESC);
    assert_eq!(classes("close_range"), 0);
    assert_eq!(classes("newfstatat"), FILE | DESC | FSTAT | STAT_LIKE);
    assert_eq!(classes("getpid"), PURE);
    assert_eq!(classes("clock_gettime"), CLOCK);
    assert_eq!(classes("shmat"), IPC | MEMORY);
    assert_eq!(classes("sendfile"), DESC | NETWORK);
    let i386_mmap = number(Abi::I386, "mmap").and_then(|nr| spec(Abi::I386, nr));
    assert_eq!(i386_mmap.map(|s| s.args.len()), Some(1));
    let i386_stat64 = number(Abi::I386, "stat64").and_then(|nr| spec(Abi::I386, nr));
    assert_eq!(
        i386_stat64.map(|s| s.classes),
        Some(FILE | STAT | STAT_LIKE)
    );
}

#[test]
fn falco_argument_names() {
    let names = |n: &str| -> Vec<&str> {
        spec_by_name(n)
            .map(|s| s.args.iter().map(|a| a.name).collect())
            .unwrap_or_default()
    };
    assert_eq!(names("openat"), ["dirfd", "name", "flags", "mode"]);
    assert_eq!(names("execve"), ["filename", "argv", "envp"]);
    assert_eq!(
        names("renameat2"),
        ["olddirfd", "oldpath", "newdirfd", "newpath", "flags"]
    );
    assert_eq!(names("symlinkat"), ["target", "linkdirfd", "linkpath"]);
    assert_eq!(
        names("linkat"),
        ["olddir", "oldpath", "newdir", "newpath", "flags"]
    );
    assert_eq!(names("ptrace"), ["request", "pid", "addr", "data"]);
    assert_eq!(names("socket"), ["domain", "type", "proto"]);
    assert_eq!(names("mount"), ["dev", "dir", "type", "flags", "data"]);
    assert_eq!(names("memfd_create"), ["name", "flags"]);
}

fn selected(expr: &str) -> Vec<&'static str> {
    select(expr).map(|s| s.x86_64_names()).unwrap_or_default()
}

#[test]
fn select_classes_names_and_negation() {
    let file = selected("%file");
    assert!(file.contains(&"openat") && file.contains(&"execve") && !file.contains(&"read"));
    assert_eq!(selected("file"), file, "legacy class spelling");
    assert_eq!(selected("%net"), selected("%network"));
    assert_eq!(
        selected("%%stat"),
        ["stat", "fstat", "lstat", "newfstatat", "statx"]
    );
    assert_eq!(selected("read,connect"), ["read", "connect"]);
    assert_eq!(selected("read,,connect,"), ["read", "connect"]);
    assert_eq!(selected("0,42"), ["read", "connect"]);
    let last = select("lsm_list_modules").map(|s| s.x86_64_numbers().collect::<Vec<_>>());
    assert_eq!(last, Ok(vec![461]));
    let not_mem = select("!%memory").map_err(|e| e.to_string());
    let not_mem = not_mem.as_ref();
    assert_eq!(not_mem.map(|s| s.contains(Abi::X86_64, 9)), Ok(false));
    assert_eq!(not_mem.map(|s| s.contains(Abi::X86_64, 0)), Ok(true));
    assert_eq!(not_mem.map(|s| s.contains(Abi::X86_64, 4000)), Ok(true));
    assert!(select("!!%memory").is_ok_and(|s| s.contains(Abi::X86_64, 9)));
    assert!(select("all").is_ok_and(|s| s.is_all()));
    assert!(select("!none").is_ok_and(|s| s.is_all()));
    assert!(select("none").is_ok_and(|s| !s.contains(Abi::X86_64, 0)));
}

#[test]
fn select_personalities() {
    let s = select("open@64");
    assert!(s
        .as_ref()
        .is_ok_and(|s| s.contains(Abi::X86_64, 2) && !s.contains(Abi::I386, 5)));
    let s = select("open");
    assert!(s
        .as_ref()
        .is_ok_and(|s| s.contains(Abi::X86_64, 2) && s.contains(Abi::I386, 5)));
    let s = select("stat64");
    assert!(s.as_ref().is_ok_and(|s| s.contains(Abi::I386, 195)));
    let s = select("%file@32");
    assert!(s
        .as_ref()
        .is_ok_and(|s| s.contains(Abi::I386, 5) && !s.contains(Abi::X86_64, 2)));
    assert!(select("open@x32").is_ok_and(|s| s.contains(Abi::X32, 2 | (1 << 30))));
}

#[test]
fn select_errors_name_the_token() {
    assert_eq!(
        select("read,nosuch"),
        Err("unknown syscall 'nosuch'".to_string())
    );
    assert_eq!(
        select("%nosuch"),
        Err("unknown syscall class '%nosuch'".to_string())
    );
    assert!(select("?nosuch,read").is_ok_and(|s| s.x86_64_names() == ["read"]));
    assert!(select("open@99").is_err_and(|e| e.contains("'99'")));
    assert!(select("/^open").is_err_and(|e| e.contains("regular expressions")));
    assert!(select("").is_err());
    assert!(select(",").is_err());
    assert!(select("999").is_err_and(|e| e.contains("999")));
    // Legacy names exist only for the classes strace has them for.
    assert!(select("creds").is_err());
}

#[test]
fn lookups_by_name_find_the_first_entry_in_table_order() {
    for spec in x86_64_table() {
        let first = x86_64_table().find(|s| s.name == spec.name).unwrap();
        assert!(std::ptr::eq(spec_by_name(spec.name).unwrap(), first));
    }
    assert!(spec_by_name("no_such_call").is_none());
}
