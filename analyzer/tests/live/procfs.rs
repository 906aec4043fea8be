//! Realistic `/proc` file contents for hand-made process records.

/// Boot time of the fake node: 2024-03-01T08:00:00Z.
pub const BOOT_NS: u64 = 1_709_280_000_000_000_000;
/// Flags of an ordinary user process (PF_RANDOMIZE | PF_SUPERPRIV-free | PF_FORKNOEXEC off).
pub const USER_FLAGS: u32 = 0x0040_0100;
/// Flags of a kernel worker thread (PF_KTHREAD | PF_WQ_WORKER | PF_NOFREEZE...).
pub const KTHREAD_FLAGS: u32 = 0x0420_8060;

/// A `stat` line as kernel 6.x prints it. `tty_nr` is the encoded device number
/// (`0x8800 | minor` for pts/minor < 256).
pub fn stat_line(
    pid: u32,
    comm: &[u8],
    state: char,
    ppid: u32,
    tty_nr: u32,
    flags: u32,
    start_ticks: u64,
) -> Vec<u8> {
    let mut s = format!("{pid} (").into_bytes();
    s.extend_from_slice(comm);
    s.extend_from_slice(
        format!(
            ") {state} {ppid} {pid} {pid} {tty_nr} -1 {flags} 2345 12000 0 3 5 2 20 9 20 0 1 0 \
             {start_ticks} 8531968 1280 18446744073709551615 94000000000000 94000000900000 \
             140720000000000 0 0 0 65536 3670020 1266777851 0 0 0 17 1 0 0 0 0 0 94000001000000 \
             94000001040000 94000020000000 140720000001000 140720000001010 140720000001010 \
             140720000003000 0\n"
        )
        .as_bytes(),
    );
    s
}

/// A `status` file of kernel 6.8 with the given identity.
pub fn status(name: &str, pid: u32, ppid: u32, uid: u32, gid: u32, cap_eff: u64) -> Vec<u8> {
    format!(
        "Name:\t{name}\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t{pid}\nNgid:\t0\nPid:\t{pid}\n\
PPid:\t{ppid}\nTracerPid:\t0\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\nGid:\t{gid}\t{gid}\t{gid}\t{gid}\n\
FDSize:\t64\nGroups:\t{gid} \nNStgid:\t{pid}\nNSpid:\t{pid}\nNSpgid:\t{pid}\nNSsid:\t{pid}\n\
Kthread:\t0\nVmPeak:\t    8868 kB\nVmSize:\t    8868 kB\nVmLck:\t       0 kB\nVmPin:\t       0 kB\n\
VmHWM:\t    5120 kB\nVmRSS:\t    5120 kB\nRssAnon:\t    1792 kB\nRssFile:\t    3328 kB\n\
RssShmem:\t       0 kB\nVmData:\t    1960 kB\nVmStk:\t     132 kB\nVmExe:\t     892 kB\n\
VmLib:\t    1864 kB\nVmPTE:\t      56 kB\nVmSwap:\t       0 kB\nHugetlbPages:\t       0 kB\n\
CoreDumping:\t0\nTHP_enabled:\t1\nuntag_mask:\t0xffffffffffffffff\nThreads:\t1\nSigQ:\t0/62811\n\
SigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\nSigBlk:\t0000000000010000\n\
SigIgn:\t0000000000380004\nSigCgt:\t000000004b817efb\nCapInh:\t0000000000000000\n\
CapPrm:\t{cap_eff:016x}\nCapEff:\t{cap_eff:016x}\nCapBnd:\t000001ffffffffff\n\
CapAmb:\t0000000000000000\nNoNewPrivs:\t0\nSeccomp:\t0\nSeccomp_filters:\t0\n\
Speculation_Store_Bypass:\tthread vulnerable\nSpeculationIndirectBranch:\tconditional enabled\n\
Cpus_allowed:\t3\nCpus_allowed_list:\t0-1\nMems_allowed:\t00000000,00000001\n\
Mems_allowed_list:\t0\nvoluntary_ctxt_switches:\t153\nnonvoluntary_ctxt_switches:\t12\n"
    )
    .into_bytes()
}

/// `maps` of a dynamically linked program, plus `extra` lines.
pub fn maps(exe: &str, extra: &[&str]) -> Vec<u8> {
    let mut s = format!(
        "55d0c8a00000-55d0c8a2e000 r--p 00000000 08:01 1310742                    {exe}\n\
55d0c8a2e000-55d0c8b0d000 r-xp 0002e000 08:01 1310742                    {exe}\n\
55d0c9f3e000-55d0ca0a5000 rw-p 00000000 00:00 0                          [heap]\n\
7f1c2a228000-7f1c2a3bd000 r-xp 00028000 08:01 1321028                    /usr/lib/x86_64-linux-gnu/libc.so.6\n\
7ffd5e1f6000-7ffd5e217000 rw-p 00000000 00:00 0                          [stack]\n"
    );
    for l in extra {
        s.push_str(l);
        s.push('\n');
    }
    s.into_bytes()
}

pub const HOST_NETNS: u64 = 4026531840;
pub const CONTAINER_NETNS: u64 = 4026532300;
pub const CONTAINER_ID: &str = "3f4e8a1b2c9d0e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f";

pub const HOST_TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1461 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1388 0100007F:A112 01 00000000:00000000 00:00000000 00000000  1000        0 54321 1 0000000000000000 20 4 30 10 -1
   2: 0500000A:A8CA 097100CB:115C 01 00000000:00000000 02:000AFC7F 00000000    33        0 60001 2 0000000000000000 20 4 26 10 -1
   3: 0100007F:A112 0100007F:1388 01 00000000:00000000 00:00000000 00000000  1000        0 54322 1 0000000000000000 20 4 30 10 -1
";
pub const HOST_TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1462 1 0000000000000000 100 0 0 10 0
";
pub const HOST_UDP: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  363: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 22011 2 0000000000000000 0
";
pub const HOST_RAW: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
   1: 00000000:0001 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 77001 2 0000000000000000 0
";
pub const HOST_UNIX: &str = "Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 15123 /run/systemd/journal/stdout
0000000000000000: 00000003 00000000 00000000 0001 03 15124 /run/systemd/journal/stdout
0000000000000000: 00000003 00000000 00000000 0001 03 15125
";
pub const HOST_PACKET: &str = "sk               RefCnt Type Proto  Iface R Rmem   User   Inode
ffff8a1b7a4ed800 3      3    0003   2     1 0      0      88001
";
pub const CONTAINER_TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99001 1 0000000000000000 100 0 0 10 0
";

pub const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
systemd-resolve:x:101:103:systemd Resolver,,,:/run/systemd:/usr/sbin/nologin
alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash
";
pub const GROUP: &str = "root:x:0:\nwww-data:x:33:\nalice:x:1000:\n";
