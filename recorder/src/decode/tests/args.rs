//! Argument decoding: paths, buffers, strings, arrays, sockaddrs, faults, i386.

use rhf_format::{Abi, Arg, Captured, PathArg, SockAddr};

use super::*;

fn path(raw: &str, resolved: Option<&str>) -> Arg {
    Arg::Path(PathArg {
        raw: bytes(raw),
        resolved: resolved.map(bytes),
    })
}

#[test]
fn dotdot_paths_are_kept_raw_and_resolved() {
    let mut f = Fixture::new();
    f.start(10, "/home/u/www");
    let name = f.mem.cstr("../../../etc/./passwd");
    let ev = f.call(10, "openat", &[AT_FDCWD, name, 0o2_000_000, 0], 3);
    assert_eq!(ev.args[0], Arg::Fd(-100, None));
    assert_eq!(
        ev.args[1],
        path("../../../etc/./passwd", Some("/etc/passwd"))
    );
    assert_eq!(ev.args[2], Arg::Hex(0o2_000_000));
    assert_eq!(f.target(10, 3), Some(file("/etc/passwd")));
    assert_eq!(f.dec.fd_cloexec(10, 3), Some(true));
    // open(2) without a dirfd resolves against the cwd too.
    let name = f.mem.cstr("a//b/");
    let ev = f.call(10, "open", &[name, 0, 0], 4);
    assert_eq!(ev.args[0], path("a//b/", Some("/home/u/www/a/b")));
}

#[test]
fn dirfd_paths_resolve_against_the_directory() {
    let mut f = Fixture::new();
    f.start(10, "/");
    let dir = f.mem.cstr("/var/log");
    f.call(10, "openat", &[AT_FDCWD, dir, 0o200_000, 0], 5);
    assert_eq!(
        f.target(10, 5),
        Some(rhf_format::FdTarget::Directory(bytes("/var/log")))
    );
    let name = f.mem.cstr("../tmp/x");
    let ev = f.call(10, "unlinkat", &[5, name, 0], 0);
    assert_eq!(fd_arg(ev.args.first()).map(|a| a.0), Some(5));
    assert_eq!(ev.args[1], path("../tmp/x", Some("/var/tmp/x")));
    // AT_EMPTY_PATH: the call is about the dirfd itself.
    let empty = f.mem.cstr("");
    let ev = f.call(10, "newfstatat", &[5, empty, 0x2000, 0x1000], 0);
    assert_eq!(ev.args[1], path("", Some("/var/log")));
    // renameat2: each path against its own dirfd.
    let (a, b) = (f.mem.cstr("old"), f.mem.cstr("new"));
    let ev = f.call(10, "renameat2", &[5, a, AT_FDCWD, b, 0], 0);
    assert_eq!(ev.args[1], path("old", Some("/var/log/old")));
    assert_eq!(ev.args[3], path("new", Some("/new")));
    // An unknown dirfd in a complete table: no base, nothing guessed.
    let ev = f.call(10, "openat", &[77, a, 0, 0], -9);
    assert_eq!(ev.args[1], path("old", None));
}

#[test]
fn cwd_comes_from_proc_when_not_seeded_and_follows_chdir() {
    let mut f = Fixture::new();
    f.proc.cwds.insert(20, b"/srv".to_vec());
    let name = f.mem.cstr("data");
    let ev = f.call(20, "open", &[name, 0, 0], -2);
    assert_eq!(ev.args[0], path("data", Some("/srv/data")));
    // chdir: the kernel's cwd (symlinks resolved) wins over the lexical one.
    let dir = f.mem.cstr("sub");
    f.proc.cwds.insert(20, b"/real/sub".to_vec());
    f.call(20, "chdir", &[dir], 0);
    assert_eq!(f.dec.cwd(20), Some(&b"/real/sub"[..]));
    // A failed chdir changes nothing.
    f.proc.cwds.insert(20, b"/elsewhere".to_vec());
    f.call(20, "chdir", &[dir], -2);
    assert_eq!(f.dec.cwd(20), Some(&b"/real/sub"[..]));
}

#[test]
fn output_buffers_are_capped_by_snaplen_and_return_value() {
    let mut f = Fixture::new();
    f.start(1, "/");
    let data: Vec<u8> = (0..=255).collect();
    let buf = f.mem.put(&data);
    let ev = f.call(1, "read", &[0, buf, 1000], 10);
    assert_eq!(
        ev.args[1],
        Arg::Buf(Captured {
            data: data[..10].to_vec().into(),
            full_len: 10
        })
    );
    let ev = f.call(1, "read", &[0, buf, 1000], 200);
    assert_eq!(
        ev.args[1],
        Arg::Buf(Captured {
            data: data[..64].to_vec().into(),
            full_len: 200
        })
    );
    let ev = f.call(1, "read", &[0, buf, 1000], -11);
    assert_eq!(ev.args[1], Arg::Buf(Captured::default()));
    assert_eq!(ev.ret, -11);
    // Input buffers: the snaplen and the length argument.
    let ev = f.call(1, "write", &[1, buf, 100], 100);
    assert_eq!(
        ev.args[1],
        Arg::Buf(Captured {
            data: data[..64].to_vec().into(),
            full_len: 100
        })
    );
    let ev = f.call(1, "write", &[1, buf, 3], 3);
    assert_eq!(
        ev.args[1],
        Arg::Buf(Captured {
            data: data[..3].to_vec().into(),
            full_len: 3
        })
    );
    let mut f = Fixture::with(DecoderOptions {
        snaplen: 0,
        ..DecoderOptions::default()
    });
    let buf = f.mem.put(&data);
    let ev = f.call(1, "write", &[1, buf, 100], 100);
    assert_eq!(
        ev.args[1],
        Arg::Buf(Captured {
            data: Vec::new().into(),
            full_len: 100
        })
    );
}

#[test]
fn faults_give_unreadable_and_null_is_hex_zero() {
    let mut f = Fixture::new();
    f.start(1, "/");
    let bad = 0xdead_0000;
    let ev = f.call(1, "openat", &[AT_FDCWD, bad, 0, 0], -14);
    assert_eq!(ev.args[1], Arg::Unreadable(bad));
    let ev = f.call(1, "write", &[1, bad, 10], -14);
    assert_eq!(ev.args[1], Arg::Unreadable(bad));
    let ev = f.call(1, "read", &[0, bad, 10], 10);
    assert_eq!(ev.args[1], Arg::Unreadable(bad));
    let ev = f.call(1, "connect", &[3, bad, 16], -14);
    assert_eq!(ev.args[1], Arg::Unreadable(bad));
    let ev = f.call(1, "execve", &[bad, bad, 0], -14);
    assert_eq!(
        ev.args,
        vec![Arg::Unreadable(bad), Arg::Unreadable(bad), Arg::Hex(0)]
    );
    let ev = f.call(1, "utimensat", &[3, 0, 0, 0], 0);
    assert_eq!(ev.args[1], Arg::Hex(0));
    // A string running into unmapped memory: what was readable, marked as cut.
    let no_nul = f.mem.put(b"abc");
    let ev = f.call(1, "memfd_create", &[no_nul, 0], -14);
    assert_eq!(
        ev.args[0],
        Arg::Str(Captured {
            data: bytes("abc"),
            full_len: 0
        })
    );
}

#[test]
fn long_strings_and_paths_are_cut_at_the_cap() {
    let mut f = Fixture::with(DecoderOptions {
        max_str: 8,
        ..DecoderOptions::default()
    });
    f.start(1, "/");
    let long = f.mem.cstr("/abcdefghijkl");
    let ev = f.call(1, "open", &[long, 0, 0], -36);
    assert_eq!(ev.args[0], path("/abcdefg", None));
    let name = f.mem.cstr("0123456789");
    let ev = f.call(1, "memfd_create", &[name, 1], 3);
    assert_eq!(
        ev.args[0],
        Arg::Str(Captured {
            data: bytes("01234567"),
            full_len: 0
        })
    );
}

#[test]
fn execve_argv_and_envp() {
    let mut f = Fixture::new();
    f.start(1, "/tmp");
    let file = f.mem.cstr("./x");
    let argv = f.mem.str_array(&["./x", "-c", "id"], 8);
    let envp = f.mem.str_array(&["PATH=/bin", "SECRET=1"], 8);
    let ev = f.call(1, "execve", &[file, argv, envp], 0);
    assert_eq!(ev.args[0], path("./x", Some("/tmp/x")));
    assert_eq!(
        ev.args[1],
        Arg::StrList(vec![bytes("./x"), bytes("-c"), bytes("id")], false)
    );
    assert_eq!(
        ev.args[2],
        Arg::StrList(vec![bytes("PATH=/bin"), bytes("SECRET=1")], false)
    );

    let mut f = Fixture::with(DecoderOptions {
        no_env: true,
        max_array_items: 2,
        ..DecoderOptions::default()
    });
    let file = f.mem.cstr("/bin/sh");
    let argv = f.mem.str_array(&["sh", "-c", "id"], 8);
    let envp = f.mem.str_array(&["A=1"], 8);
    let ev = f.call(1, "execve", &[file, argv, envp], 0);
    assert_eq!(
        ev.args[1],
        Arg::StrList(vec![bytes("sh"), bytes("-c")], true)
    );
    assert_eq!(ev.args[2], Arg::Hex(envp));

    let mut f = Fixture::with(DecoderOptions {
        max_array_bytes: 6,
        ..DecoderOptions::default()
    });
    let argv = f.mem.str_array(&["abc", "defgh"], 8);
    let ev = f.call(1, "execve", &[file, argv, 0], 0);
    assert_eq!(
        ev.args[1],
        Arg::StrList(vec![bytes("abc"), bytes("de")], true)
    );
}

#[test]
fn sockaddrs_by_family() {
    let mut f = Fixture::new();
    f.start(1, "/");
    let inet = f
        .mem
        .put(&[2, 0, 0x1f, 0x90, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    let ev = f.call(1, "connect", &[3, inet, 16], -111);
    assert_eq!(
        ev.args[1],
        Arg::Sockaddr(SockAddr::Inet([10, 0, 0, 1], 8080))
    );
    let mut six = vec![10, 0, 0, 80, 0, 0, 0, 0];
    six.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    six.extend_from_slice(&2u32.to_le_bytes());
    let six_addr = f.mem.put(&six);
    let ev = f.call(1, "sendto", &[3, inet, 0, 0, six_addr, 28], 0);
    let mut v6 = [0u8; 16];
    v6[..2].copy_from_slice(&[0xfe, 0x80]);
    v6[15] = 1;
    assert_eq!(ev.args[4], Arg::Sockaddr(SockAddr::Inet6(v6, 80, 2)));
    let unix = f.mem.put(b"\x01\x00/run/x.sock\0garbage");
    let ev = f.call(1, "bind", &[3, unix, 20], -98);
    assert_eq!(
        ev.args[1],
        Arg::Sockaddr(SockAddr::Unix(bytes("/run/x.sock")))
    );
    let abs = f.mem.put(b"\x01\x00\0hidden");
    let ev = f.call(1, "connect", &[3, abs, 9], -111);
    assert_eq!(ev.args[1], Arg::Sockaddr(SockAddr::Unix(bytes("\0hidden"))));
    let nl = f.mem.put(&[16, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
    let ev = f.call(1, "bind", &[3, nl, 12], 0);
    assert_eq!(
        ev.args[1],
        Arg::Sockaddr(SockAddr::Netlink { pid: 0, groups: 1 })
    );
    // Kernel-filled: accept's peer, sized by the socklen_t it points to.
    let peer = f
        .mem
        .put(&[2, 0, 0, 22, 192, 168, 1, 9, 0, 0, 0, 0, 0, 0, 0, 0]);
    let len = f.mem.put(&16u32.to_le_bytes());
    let ev = f.call(1, "getpeername", &[3, peer, len], 0);
    assert_eq!(
        ev.args[1],
        Arg::Sockaddr(SockAddr::Inet([192, 168, 1, 9], 22))
    );
}

#[test]
fn iovecs_are_gathered_up_to_the_snaplen() {
    let mut f = Fixture::with(DecoderOptions {
        snaplen: 8,
        ..DecoderOptions::default()
    });
    f.start(1, "/");
    let (a, b) = (f.mem.put(b"hello "), f.mem.put(b"world"));
    let mut iov = Vec::new();
    for (base, len) in [(a, 6u64), (b, 5u64)] {
        iov.extend_from_slice(&base.to_le_bytes());
        iov.extend_from_slice(&len.to_le_bytes());
    }
    let iov = f.mem.put(&iov);
    let ev = f.call(1, "writev", &[1, iov, 2], 11);
    assert_eq!(
        ev.args[1],
        Arg::Buf(Captured {
            data: bytes("hello wo"),
            full_len: 11
        })
    );
    let ev = f.call(1, "readv", &[0, iov, 2], 4);
    assert_eq!(
        ev.args[1],
        Arg::Buf(Captured {
            data: bytes("hell"),
            full_len: 4
        })
    );
}

#[test]
fn integers_follow_the_c_types() {
    let mut f = Fixture::new();
    f.start(1, "/");
    // kill(-1, SIGKILL) with the pid in a 32-bit register write.
    let ev = f.call(1, "kill", &[0xffff_ffff, 9], 0);
    assert_eq!(ev.args, vec![Arg::Int(-1), Arg::Hex(9)]);
    let ev = f.call(1, "lseek", &[3, (-5i64) as u64, 2], 0);
    assert_eq!(ev.args[1], Arg::Int(-5));
    let ev = f.call(1, "mmap", &[0, u64::MAX, 3, 0x22, 0xffff_ffff, 0], 0);
    assert_eq!(ev.args[1], Arg::Hex(u64::MAX));
    assert_eq!(ev.args[4], Arg::Fd(-1, None));
    // Unknown numbers: six raw values.
    let pending = f.dec.on_entry(
        1,
        1,
        Abi::X86_64,
        400,
        [1, 2, 3, 4, 5, 6],
        &mut f.mem,
        &mut f.proc,
    );
    let ev = f.dec.on_exit(pending, -38, &mut f.mem, &mut f.proc);
    assert_eq!(ev.args, (1..=6).map(Arg::Hex).collect::<Vec<_>>());
}

#[test]
fn i386_calls_use_i386_numbers_and_32_bit_pointers() {
    let mut f = Fixture::new();
    f.start(1, "/root");
    let file = f.mem.cstr("sh");
    let argv = f.mem.str_array(&["sh", "-i"], 4);
    // i386 execve is 11; registers arrive zero-extended.
    let ev = f.call_abi(1, Abi::I386, "execve", &[file, argv, 0], 0);
    assert_eq!(ev.nr, 11);
    assert_eq!(ev.abi, Abi::I386);
    assert_eq!(ev.args[0], path("sh", Some("/root/sh")));
    assert_eq!(
        ev.args[1],
        Arg::StrList(vec![bytes("sh"), bytes("-i")], false)
    );
    let name = f.mem.cstr("/etc/shadow");
    let ev = f.call_abi(1, Abi::I386, "open", &[name, 0, 0], 3);
    assert_eq!(ev.nr, 5);
    assert_eq!(f.target(1, 3), Some(file_t("/etc/shadow")));
    // Upper halves are not part of an i386 argument.
    let ev = f.call_abi(1, Abi::I386, "kill", &[0xdead_beef_ffff_ffff, 9], 0);
    assert_eq!(ev.args[0], Arg::Int(-1));
    let ev = f.call_abi(1, Abi::I386, "lseek", &[3, 0x1_ffff_fffe, 0], 0);
    assert_eq!(ev.args[1], Arg::Int(-2));
    // The old one-pointer mmap.
    let ev = f.call_abi(1, Abi::I386, "mmap", &[0x1234], 0);
    assert_eq!(ev.args, vec![Arg::Hex(0x1234)]);
    // i386-only calls have specs.
    let ev = f.call_abi(1, Abi::I386, "stat64", &[name, 0], 0);
    assert_eq!(ev.args[0], path("/etc/shadow", Some("/etc/shadow")));
}

fn file_t(p: &str) -> rhf_format::FdTarget {
    file(p)
}

#[test]
fn execve_arrays_are_read_a_block_of_pointers_at_a_time() {
    let mut f = Fixture::new();
    f.start(1, "/tmp");
    let file = f.mem.cstr("/bin/env");
    let names: Vec<String> = (0..150).map(|i| format!("V{i}=x")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let envp = f.mem.str_array(&refs, 8);
    let before = f.mem.reads;
    let ev = f.call(1, "execve", &[file, 0, envp], 0);
    let Arg::StrList(items, cut) = &ev.args[2] else {
        panic!("{:?}", ev.args[2])
    };
    assert_eq!((items.len(), *cut), (150, false));
    assert_eq!(items[149], bytes("V149=x"));
    // 150 strings, the path, and the pointers in 3 blocks of at most 64: not one read each.
    assert!(
        f.mem.reads - before <= 150 + 1 + 3 + 2,
        "{} reads",
        f.mem.reads - before
    );

    // An array that runs into unreadable memory without its NULL is kept, and marked cut.
    let mut unterminated = Vec::new();
    for s in ["a", "b"] {
        unterminated.extend_from_slice(&f.mem.cstr(s).to_le_bytes());
    }
    let argv = f.mem.put(&unterminated);
    let ev = f.call(1, "execve", &[file, argv, 0], 0);
    assert_eq!(ev.args[1], Arg::StrList(vec![bytes("a"), bytes("b")], true));
}
