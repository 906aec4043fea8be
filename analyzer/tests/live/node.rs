//! A compromised node: one process per indicator, plus innocent ones that must stay quiet.

use std::path::PathBuf;

use rhf_format::{Accounts, ExecutableInfo, HostFiles, NetworkTables, RecordBody};

use super::fixture::{failed, fd, raw, records, write_trace, Proc};
use super::procfs::*;

/// Secrets planted in the node; no view may print them without `--show-secrets`.
pub const ENV_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
pub const CMDLINE_SECRET: &str = "Sup3r-S3cret!";
pub const URL_SECRET: &str = "pgpass-771";

/// The pids, by role.
pub const SLEEP: u32 = 700;
pub const SSHD: u32 = 812;
pub const REVERSE_SHELL: u32 = 900;
pub const WEBAPP: u32 = 950;
pub const CLIENT: u32 = 960;
pub const DELETED: u32 = 1000;
pub const MEMFD: u32 = 1100;
pub const PRELOAD: u32 = 1200;
pub const SNIFFER: u32 = 1300;
pub const RAW: u32 = 1400;
pub const FAKE_KTHREAD: u32 = 1500;
pub const TMP_EXEC: u32 = 1600;
pub const SECRETS: u32 = 1700;
pub const NGINX: u32 = 1800;
pub const HOSTILE: u32 = 1900;

pub fn processes() -> Vec<Proc> {
    let mut init = Proc::new(
        1,
        0,
        "systemd",
        0,
        "/usr/lib/systemd/systemd",
        &["/sbin/init", "splash"],
    );
    init.fds = vec![
        fd(0, b"/dev/null"),
        fd(3, b"anon_inode:[eventpoll]"),
        fd(4, b"socket:[15123]"),
    ];
    let mut kthreadd = Proc::kthread(2, "kthreadd");
    kthreadd.ppid = 0;
    let mut sleep = Proc::new(
        SLEEP,
        1,
        "sleep",
        1000,
        "/usr/bin/sleep",
        &["sleep", "1000"],
    );
    sleep.tty_nr = 0x8800;
    sleep.fds = vec![
        fd(0, b"/dev/pts/0"),
        fd(1, b"/dev/pts/0"),
        fd(2, b"/dev/pts/0"),
    ];
    let mut sshd = Proc::new(
        SSHD,
        1,
        "sshd",
        0,
        "/usr/sbin/sshd",
        &["sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"],
    );
    sshd.fds
        .extend([fd(3, b"socket:[1461]"), fd(4, b"socket:[1462]")]);
    let mut shell = Proc::new(
        REVERSE_SHELL,
        1,
        "bash",
        33,
        "/usr/bin/bash",
        &["bash", "-i"],
    );
    shell.fds = vec![
        fd(0, b"socket:[60001]"),
        fd(1, b"socket:[60001]"),
        fd(2, b"socket:[60001]"),
        fd(255, b"/dev/null"),
    ];
    let mut webapp = Proc::new(
        WEBAPP,
        1,
        "webapp",
        1000,
        "/usr/local/bin/webapp",
        &["/usr/local/bin/webapp", "--listen", "127.0.0.1:5000"],
    );
    webapp.fds.extend([
        fd(3, b"socket:[54321]"),
        fd(4, b"pipe:[33001]"),
        fd(5, b"anon_inode:inotify"),
    ]);
    let mut client = Proc::new(
        CLIENT,
        1,
        "curl",
        1000,
        "/usr/bin/curl",
        &["curl", "http://127.0.0.1:5000/"],
    );
    client.fds.push(fd(3, b"socket:[54322]"));
    let mut deleted = Proc::new(
        DELETED,
        1,
        "updater",
        0,
        "/opt/app/updater (deleted)",
        &["/opt/app/updater"],
    );
    if let Some(e) = deleted.exe.as_mut() {
        e.deleted = true;
        e.sha256 = Some([0xab; 32]);
    }
    let mut memfd = Proc::new(MEMFD, 1, "3", 0, "/memfd:payload (deleted)", &["kdevtmp"]);
    memfd.maps = Some(maps("/memfd:payload (deleted)", &[]));
    memfd.fds.push(fd(3, b"/memfd:payload (deleted)"));
    let mut preload = Proc::new(
        PRELOAD,
        1,
        "cron",
        0,
        "/usr/sbin/cron",
        &["/usr/sbin/cron", "-f"],
    );
    preload.env.push(b"LD_PRELOAD=/usr/lib/libhook.so".to_vec());
    preload.maps = Some(maps(
        "/usr/sbin/cron",
        &["7f1c2a600000-7f1c2a628000 r-xp 00001000 08:01 777 /usr/lib/libhook.so"],
    ));
    let mut sniffer = Proc::new(SNIFFER, 1, "sniffd", 0, "/usr/sbin/sniffd", &["sniffd"]);
    sniffer.fds.push(fd(3, b"socket:[88001]"));
    let mut raw_sock = Proc::new(RAW, 1, "pingd", 0, "/usr/sbin/pingd", &["pingd"]);
    raw_sock.fds.push(fd(3, b"socket:[77001]"));
    let mut fake = Proc::new(
        FAKE_KTHREAD,
        1,
        "kw",
        0,
        "/usr/lib/.cache/kw",
        &["[kworker/0:2]"],
    );
    fake.fds.clear();
    webapp
        .env
        .push(b"LD_LIBRARY_PATH=/opt/webapp/lib:/usr/lib/jvm/lib".to_vec());
    let mut tmp = Proc::new(
        TMP_EXEC,
        1,
        "miner",
        1000,
        "/tmp/.x/miner",
        &["/tmp/.x/miner", "-o", "pool:3333"],
    );
    tmp.env
        .push(b"LD_LIBRARY_PATH=/usr/lib:/dev/shm/.l".to_vec());
    let mut secrets = Proc::new(
        SECRETS,
        1,
        "mysql",
        1000,
        "/usr/bin/mysql",
        &[
            "mysql",
            &format!("--password={CMDLINE_SECRET}"),
            "-h",
            "db",
            "--token",
            CMDLINE_SECRET,
        ],
    );
    secrets
        .env
        .push(format!("AWS_SECRET_ACCESS_KEY={ENV_SECRET}").into_bytes());
    secrets
        .env
        .push(format!("DATABASE_URI=postgres://app:{URL_SECRET}@db:5432/app").into_bytes());
    let mut nginx = Proc::new(
        NGINX,
        1,
        "nginx",
        0,
        "/usr/sbin/nginx",
        &["nginx: master process nginx -g daemon off;"],
    );
    nginx.netns = CONTAINER_NETNS;
    nginx.cgroup = format!("0::/system.slice/docker-{CONTAINER_ID}.scope\n").into_bytes();
    nginx.fds = vec![fd(0, b"/dev/null"), fd(6, b"socket:[99001]")];
    let mut hostile = Proc::new(HOSTILE, 1, "evil\x1b[2J", 1000, "/usr/bin/evil", &["evil"]);
    hostile.argv = vec![b"evil\x1b[31mred".to_vec(), b"\xff\xfe\n".to_vec()];
    vec![
        init,
        kthreadd,
        Proc::kthread(15, "kworker/0:1-events"),
        sleep,
        sshd,
        shell,
        webapp,
        client,
        deleted,
        memfd,
        preload,
        sniffer,
        raw_sock,
        fake,
        tmp,
        secrets,
        nginx,
        hostile,
    ]
}

pub fn network(netns: u64, via: u32, tables: &[(&str, &str)]) -> RecordBody {
    RecordBody::Network(NetworkTables {
        netns,
        via_pid: via,
        files: tables.iter().map(|(n, c)| raw(n, c.as_bytes())).collect(),
    })
}

pub fn host_files(preload: Option<&str>) -> RecordBody {
    let ld = match preload {
        Some(c) => raw("/etc/ld.so.preload", c.as_bytes()),
        None => failed(
            "/etc/ld.so.preload",
            "No such file or directory (os error 2)",
        ),
    };
    RecordBody::HostFiles(HostFiles {
        files: vec![
            raw("/proc/version", b"Linux version 6.8.0-45-generic\n"),
            ld,
        ],
    })
}

pub fn accounts() -> RecordBody {
    RecordBody::Accounts(Box::new(Accounts {
        passwd: raw("/etc/passwd", PASSWD.as_bytes()),
        group: raw("/etc/group", GROUP.as_bytes()),
    }))
}

/// The whole snapshot in record order, with a thread of the webapp.
pub fn bodies(procs: &[Proc], preload: Option<&str>) -> Vec<RecordBody> {
    let mut out = vec![host_files(preload), accounts()];
    for p in procs {
        out.push(RecordBody::Process(Box::new(p.record())));
        if p.pid == WEBAPP {
            let mut t = p.record();
            t.tid = WEBAPP + 1;
            t.files = vec![
                raw("comm", b"worker\n"),
                raw(
                    "stat",
                    &stat_line(WEBAPP + 1, b"worker", 'S', 1, 0, USER_FLAGS, 2000),
                ),
            ];
            t.fds.clear();
            t.exe = Some(ExecutableInfo::default());
            out.push(RecordBody::Process(Box::new(t)));
        }
    }
    out.push(network(
        HOST_NETNS,
        1,
        &[
            ("tcp", HOST_TCP),
            ("tcp6", HOST_TCP6),
            ("udp", HOST_UDP),
            ("raw", HOST_RAW),
            ("unix", HOST_UNIX),
            ("packet", HOST_PACKET),
        ],
    ));
    out.push(network(CONTAINER_NETNS, NGINX, &[("tcp", CONTAINER_TCP)]));
    out
}

/// The compromised node written to a trace in `dir`.
pub fn trace(dir: &std::path::Path) -> PathBuf {
    write_trace(
        dir,
        "node.rhf",
        &records(bodies(&processes(), Some("/usr/lib/libevil.so\n"))),
    )
}

/// Writes the node to `$RHF_NODE_OUT` for trying the views by hand:
/// `RHF_NODE_OUT=/tmp/node.rhf cargo test -p rhf-analyzer --test live -- --ignored write_node`.
#[test]
#[ignore]
fn write_node() {
    let Some(out) = std::env::var_os("RHF_NODE_OUT") else {
        return;
    };
    let out = PathBuf::from(out);
    let dir = out.parent().expect("a file path");
    let name = out
        .file_name()
        .and_then(|n| n.to_str())
        .expect("a file name");
    write_trace(
        dir,
        name,
        &records(bodies(&processes(), Some("/usr/lib/libevil.so\n"))),
    );
}
