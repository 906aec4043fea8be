//! `rhf-analyze`: parse the command line, run one command, map the outcome to an exit code.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use rhf_analyzer::commands::event_filter::{parse_syscall_name, EventFilter};
use rhf_analyzer::commands::{
    env, findings, info, lsof, netstat, print, ps, report, rules, scan, summary, timeline, verify,
};
use rhf_analyzer::redact::Redactor;
use rhf_analyzer::render::count::{self, Column, SortBy};
use rhf_analyzer::rules::filter::ConditionFilter;
use rhf_analyzer::rules::load::Priority;
use rhf_analyzer::snapshot::HostSnapshot;
use rhf_analyzer::trace;
use serde::Serialize;

// The analyzer allocates and frees millions of small records per second across threads;
// mimalloc does that markedly faster than glibc's allocator (docs/BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EXIT_CODES: &str = "\
Exit codes:
  0  success (verify: the trace is intact)
  1  error: the trace cannot be read (missing, not an rhf file, newer format version), a --pid
     that is not in the snapshot, or output failed
  2  invalid command line
  3  verify: the trace is damaged or was altered (a chunk, the footer or the trailer does not match)
  4  verify: the trace is truncated (the chunks before the cut are intact)
  5  rules, timeline, report: a rules file has errors (all of them are printed, with
     file:line:column)
  6  rules: an alert at or above --fail-on's priority fired
info, ps, lsof, netstat, env, findings, summary, print, rules, timeline and report exit 0 on
a truncated or damaged trace: they show what the intact chunks hold and say on stderr that
records are missing.";

/// Analyse rhf traces offline: what they hold, and whether they are intact.
#[derive(Parser)]
#[command(name = "rhf-analyze", version, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Header, host, capture time range, records per kind, chunks, sizes, integrity.
    #[command(after_help = EXIT_CODES)]
    Info {
        file: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Show secret-looking values of the recorder's command line (redacted by default).
        #[arg(long)]
        show_secrets: bool,
    },
    /// Recompute every checksum and the hash chain; print the digest when intact.
    #[command(after_help = EXIT_CODES)]
    Verify { file: PathBuf },
    /// Processes at snapshot time: PID PPID USER START TTY CONTAINER EXE CMD.
    ///
    /// Command-line values of secret-looking flags and token-shaped secrets (cloud keys,
    /// JWTs...) are redacted unless --show-secrets (docs/REDACTION.md).
    #[command(after_help = EXIT_CODES)]
    Ps {
        /// A trace holding a `/proc` snapshot (`rhf-record snapshot`).
        file: PathBuf,
        /// Draw the parent/child hierarchy (ASCII, like `pstree -A -p`).
        #[arg(long)]
        tree: bool,
        /// Print JSON instead of a table (with --tree: nested `children`).
        #[arg(long)]
        json: bool,
        /// Show secret values instead of [REDACTED:<sha256 prefix>] markers.
        #[arg(long)]
        show_secrets: bool,
    },
    /// Open files per process: PID COMMAND CONTAINER FD TYPE NAME, sockets joined with the
    /// socket tables of the process's network namespace.
    #[command(after_help = EXIT_CODES)]
    Lsof {
        /// A trace holding a `/proc` snapshot (`rhf-record snapshot`).
        file: PathBuf,
        /// Only this process.
        #[arg(long)]
        pid: Option<u32>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Every socket (tcp, tcp6, udp, udp6, raw, raw6, icmp, icmp6, unix, packet) of every
    /// recorded network namespace, with the processes holding it.
    #[command(after_help = EXIT_CODES)]
    Netstat {
        /// A trace holding a `/proc` snapshot (`rhf-record snapshot`).
        file: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The initial environment of each process (NAME=value); values are redacted unless
    /// --show-secrets.
    #[command(after_help = EXIT_CODES)]
    Env {
        /// A trace holding a `/proc` snapshot (`rhf-record snapshot`).
        file: PathBuf,
        /// Only this process.
        #[arg(long)]
        pid: Option<u32>,
        /// Show values instead of [REDACTED:<sha256 prefix>] markers.
        #[arg(long)]
        show_secrets: bool,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// strace's `-c` table of the recorded syscalls: time, calls and errors per syscall.
    ///
    /// The layout is strace's, byte for byte. Times are wall time from entry to exit, exact
    /// from the recorded timestamps, as `strace -c -w` shows them: rhf always shows wall time
    /// (strace's plain `-c` shows system CPU time). Calls that never returned (exit_group, a
    /// capture that ended mid-call) are not counted, as strace does not count them. 32-bit
    /// (i386) and x32 calls get tables of their own, as strace prints them.
    #[command(after_help = EXIT_CODES)]
    Summary {
        file: PathBuf,
        /// Sort rows by time, calls, errors, name, min-time, max-time, avg-time or nothing
        /// (strace's -S, with its aliases); numbers sort largest first.
        #[arg(
            short = 'S',
            long = "sort-by",
            visible_alias = "summary-sort-by",
            value_name = "SORTBY",
            default_value = "time",
            value_parser = count::parse_sort
        )]
        sort: SortBy,
        /// Columns, comma-separated: time-percent, total-time, min-time, max-time, avg-time,
        /// calls, errors, name (strace's -U, with its aliases); name is added when missing.
        #[arg(
            short = 'U',
            long = "columns",
            visible_alias = "summary-columns",
            value_name = "COLUMNS",
            value_parser = parse_columns
        )]
        columns: Option<Columns>,
        /// One summary per process (thread group), each under a `System call usage summary
        /// for process PID:` line, by pid.
        #[arg(long)]
        per_process: bool,
        /// Only events of this process or thread (repeatable).
        #[arg(long = "pid", value_name = "PID")]
        pids: Vec<u32>,
        /// Only this syscall, in every ABI (repeatable).
        #[arg(long = "syscall", value_name = "NAME", value_parser = parse_syscall_name)]
        syscalls: Vec<String>,
        /// Only calls that failed (strace's -Z; strace 6.1's -c ignores -Z, rhf does not).
        #[arg(long)]
        failed: bool,
        /// Count only syscalls this rule condition holds for (docs/RULES.md), e.g.
        /// `--filter 'proc.name = nginx and fd.name startswith /etc'`.
        #[arg(long, value_name = "EXPR")]
        filter: Option<String>,
        /// Print JSON: per table, one object per syscall row, and the totals.
        #[arg(long)]
        json: bool,
        /// Worker threads (default: one per core); the output does not depend on it.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
        threads: Option<u32>,
    },
    /// Every recorded event as a `strace -f -ttt -T -yy` line: `PID  TIME call(args) = ret
    /// <duration>`, `+++ exited with 0 +++`, `--- SIGCHLD {...} ---`.
    ///
    /// Events come in trace order: a syscall is recorded when it returns and stamped with its
    /// entry time, so concurrent threads' lines can step back in time (strace would split
    /// such calls into `<unfinished ...>` and `<... resumed>` lines; rhf never does). Strings
    /// are quoted as strace quotes them and end in `...` when the recorder kept only their
    /// start. Records of lost events are reported on stderr (in the JSON stream with --json).
    /// Secrets in argv, strings and buffers are redacted unless --show-secrets
    /// (docs/REDACTION.md).
    #[command(after_help = EXIT_CODES)]
    Print {
        file: PathBuf,
        /// One JSON object per line: time, ts_ns, pid, tid, syscall, named typed args, ret,
        /// errno, duration_ns; exits, signals, spawns, execs and losses as their own objects.
        #[arg(long)]
        json: bool,
        /// Only events of this process or thread (repeatable).
        #[arg(long = "pid", value_name = "PID")]
        pids: Vec<u32>,
        /// Only this syscall, in every ABI (repeatable); exits and signals still print.
        #[arg(long = "syscall", value_name = "NAME", value_parser = parse_syscall_name)]
        syscalls: Vec<String>,
        /// Only calls that failed (strace's -Z); exits and signals still print.
        #[arg(long)]
        failed: bool,
        /// Show only syscalls this rule condition holds for (docs/RULES.md); process
        /// lifecycle lines are then left out.
        #[arg(long, value_name = "EXPR")]
        filter: Option<String>,
        /// Show secrets in execve argv, strings and buffers instead of
        /// [REDACTED:<sha256 prefix>] markers (the environment is always only counted).
        #[arg(long)]
        show_secrets: bool,
    },
    /// Indicators of compromise in the snapshot (docs/FINDINGS.md), sorted by pid.
    /// Falco rules over the trace: alerts in Falco's text format, or its JSON format.
    ///
    /// Loads Falco rules files unmodified (`-r` files or directories, in order; a directory's
    /// .yaml/.yml files alphabetically); without `-r`, rhf's built-in default rules. Alerts are
    /// ordered by event time, then event number. Snapshot processes are events of type
    /// `procinfo`. Command lines and environments in outputs are redacted unless
    /// --show-secrets. The language and fields: docs/RULES.md.
    #[command(after_help = EXIT_CODES)]
    Rules {
        file: Option<PathBuf>,
        /// A rules file or directory; repeatable, loaded in order.
        #[arg(short = 'r', long = "rules", value_name = "PATH")]
        rules: Vec<PathBuf>,
        /// One JSON object per alert (Falco's json_output format).
        #[arg(long)]
        json: bool,
        /// Disable rules less severe than this (emergency ... debug).
        #[arg(long, value_name = "PRIORITY")]
        min_priority: Option<Priority>,
        /// Enable rules by name glob or `tag:NAME` (repeatable).
        #[arg(long, value_name = "PATTERN")]
        enable: Vec<String>,
        /// Disable rules by name glob or `tag:NAME` (repeatable; after --enable).
        #[arg(long, value_name = "PATTERN")]
        disable: Vec<String>,
        /// List the loaded rules and their state instead of evaluating (FILE not needed).
        #[arg(long)]
        list: bool,
        /// Exit 6 when an alert of this priority or a more severe one fired.
        #[arg(long, value_name = "PRIORITY")]
        fail_on: Option<Priority>,
        /// Print full ISO 8601 times in text alerts instead of HH:MM:SS.nnnnnnnnn.
        #[arg(long)]
        iso8601: bool,
        /// Show command-line secrets and environment values in outputs.
        #[arg(long)]
        show_secrets: bool,
        /// Worker threads (default: one per core).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
        threads: Option<u32>,
    },
    /// A chronological account of the trace: process starts, execs and exits, file opens,
    /// reads, writes, renames, unlinks and mode changes, connects, accepts, binds, privilege
    /// changes, rule alerts, the processes running at capture start (docs/TIMELINE.md).
    ///
    /// Runs of reads or writes of one descriptor by one thread collapse into one line with a
    /// count, bytes and time span. Command-line secrets and environment values are redacted
    /// unless --show-secrets. Alerts come from rhf's built-in rules, or the -r files.
    #[command(after_help = EXIT_CODES)]
    Timeline {
        file: PathBuf,
        /// text (for people), jsonl or csv (columns for timeline tools such as Timesketch).
        #[arg(long, value_name = "FORMAT", default_value = "text")]
        format: timeline::Format,
        /// Only this process (or thread).
        #[arg(long, value_name = "PID")]
        pid: Option<u32>,
        /// With --pid: the process and all its descendants.
        #[arg(long, requires = "pid")]
        subtree: bool,
        /// Start here: ISO 8601 (2026-11-28T10:20:05.5Z), Unix seconds, or an offset from the
        /// capture start (+2.5s, +150ms, +1m).
        #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
        from: Option<String>,
        /// End here, inclusive: the same forms as --from; an absolute time covers the unit of
        /// its last digit (--to 10:20:05Z includes 10:20:05.7).
        #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
        to: Option<String>,
        /// Only events this rule condition holds for (docs/RULES.md).
        #[arg(long, value_name = "EXPR")]
        filter: Option<String>,
        /// Rules for the alerts: a file or directory; repeatable, loaded in order.
        #[arg(short = 'r', long = "rules", value_name = "PATH")]
        rules: Vec<PathBuf>,
        /// Leave rule alerts out.
        #[arg(long, conflicts_with = "rules")]
        no_alerts: bool,
        /// One line per event: do not collapse runs of reads and writes.
        #[arg(long)]
        no_collapse: bool,
        /// Show command-line secrets and environment values.
        #[arg(long)]
        show_secrets: bool,
        /// Worker threads (default: one per core); the output does not depend on it.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
        threads: Option<u32>,
    },
    #[command(after_help = EXIT_CODES)]
    Findings {
        /// A trace holding a `/proc` snapshot (`rhf-record snapshot`).
        file: PathBuf,
        /// Print a JSON array of findings instead of a table.
        #[arg(long)]
        json: bool,
        /// Show secret values in the evidence instead of [REDACTED:<sha256 prefix>] markers.
        #[arg(long)]
        show_secrets: bool,
    },
    /// One document for a ticket: capture metadata and integrity, alerts by priority with
    /// their evidence, findings, the process tree, top syscalls, files and connections, and
    /// the timeline around each alert (docs/REPORT.md; JSON: docs/report-schema.md).
    ///
    /// Markdown renders in GitHub, GitLab and Jira; HTML is one self-contained file (inline
    /// CSS and SVG, nothing external). Secrets are redacted unless --show-secrets, and the
    /// report says which. Exits 5 when a rules file has errors, as `rules` does.
    #[command(after_help = EXIT_CODES)]
    Report {
        file: PathBuf,
        /// A rules file or directory; repeatable, loaded in order (default: the built-in
        /// rules).
        #[arg(short = 'r', long = "rules", value_name = "RULES")]
        rules: Vec<PathBuf>,
        /// md (Markdown), html or json.
        #[arg(long, value_name = "FORMAT", default_value = "md",
              value_parser = ["md", "html", "json"])]
        format: String,
        /// Write the report to this new file (mode 0600) instead of standard output.
        #[arg(short = 'o', long = "output", value_name = "OUT")]
        output: Option<PathBuf>,
        /// Replace OUT if it exists (never through a symbolic link).
        #[arg(long)]
        force: bool,
        /// Show command-line secrets and environment values; the report says so.
        #[arg(long)]
        show_secrets: bool,
        /// Worker threads (default: one per core); the report does not depend on it.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
        threads: Option<u32>,
    },
}

/// `-U`'s value; a newtype so that clap parses one list, not repeated values.
#[derive(Clone)]
struct Columns(Vec<Column>);

fn parse_columns(s: &str) -> Result<Columns, String> {
    count::parse_columns(s).map(Columns)
}

const EXIT_DAMAGED: u8 = 3;
const EXIT_RULES_INVALID: u8 = 5;
const EXIT_FAIL_ON: u8 = 6;
const EXIT_TRUNCATED: u8 = 4;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            // A closed pipe (`| head`) is not a failure.
            if err
                .chain()
                .filter_map(|c| c.downcast_ref::<std::io::Error>())
                .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("rhf-analyze: error: {err:#}");
            if err.downcast_ref::<UsageError>().is_some() {
                return ExitCode::from(2);
            }
            ExitCode::FAILURE
        }
    }
}

/// Reads the snapshot records of a trace; problems with the trace as a whole go to stderr.
fn load_snapshot(file: &std::path::Path) -> Result<HostSnapshot> {
    let reader = trace::open(file)?;
    let snap = HostSnapshot::load(&reader);
    for note in &snap.notes {
        eprintln!(
            "rhf-analyze: note: {}",
            rhf_analyzer::escape::escape_str(note)
        );
    }
    Ok(snap)
}

/// The filters of `summary` and `print`; a `--filter` condition is compiled against the trace.
fn event_filter(
    reader: &rhf_format::TraceReader,
    pids: &[u32],
    syscalls: &[String],
    failed: bool,
    condition: Option<&str>,
) -> Result<EventFilter> {
    let f = EventFilter::new(pids, syscalls, failed).map_err(anyhow::Error::msg)?;
    Ok(match condition {
        None => f,
        Some(text) => f.with_condition(
            ConditionFilter::new(text, reader)
                .map_err(|e| anyhow::anyhow!("--filter: {e}"))
                .map_err(|e| UsageError(e.to_string()))?,
        ),
    })
}

/// A command-line mistake found after parsing (exit 2, like clap's own).
#[derive(Debug)]
struct UsageError(String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn note(text: &str) {
    eprintln!("rhf-analyze: note: {text}");
}

fn check_pid(snap: &HostSnapshot, pid: Option<u32>) -> Result<()> {
    match pid {
        Some(p) if !snap.processes.contains_key(&p) => {
            anyhow::bail!("pid {p} is not in the snapshot")
        }
        _ => Ok(()),
    }
}

/// Writes `value` as pretty JSON, or `text`.
fn emit<T: Serialize>(
    out: &mut impl Write,
    json: bool,
    value: &T,
    text: impl FnOnce(&T) -> String,
) -> Result<()> {
    if json {
        // As an io::Error, so that a closed pipe is recognised in `main`.
        serde_json::to_writer_pretty(&mut *out, value).map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else {
        out.write_all(text(value).as_bytes())?;
    }
    Ok(())
}

fn run(cli: Cli) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Ps {
            file,
            tree,
            json,
            show_secrets,
        } => {
            let snap = load_snapshot(&file)?;
            let rows = ps::rows(&snap, &Redactor::new(show_secrets));
            if tree {
                emit(&mut out, json, &ps::tree(rows), |r| ps::render_tree(r))?;
            } else {
                emit(&mut out, json, &rows, |r| ps::render_table(r))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Lsof { file, pid, json } => {
            let snap = load_snapshot(&file)?;
            check_pid(&snap, pid)?;
            emit(&mut out, json, &lsof::rows(&snap, pid), |r| {
                lsof::render_table(r)
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Netstat { file, json } => {
            let snap = load_snapshot(&file)?;
            emit(&mut out, json, &netstat::rows(&snap), |r| {
                netstat::render_table(r)
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Env {
            file,
            pid,
            show_secrets,
            json,
        } => {
            let snap = load_snapshot(&file)?;
            check_pid(&snap, pid)?;
            let entries = env::entries(&snap, pid, &Redactor::new(show_secrets));
            emit(&mut out, json, &entries, |e| env::render_table(e))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Findings {
            file,
            json,
            show_secrets,
        } => {
            let snap = load_snapshot(&file)?;
            let found = findings::collect(&snap, &Redactor::new(show_secrets));
            emit(&mut out, json, &found, |f| findings::render_table(f))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Report {
            file,
            rules: paths,
            format,
            output,
            force,
            show_secrets,
            threads,
        } => {
            let opts = report::Options {
                file,
                rules: paths,
                format: format.parse().map_err(UsageError)?,
                output,
                force,
                show_secrets,
                threads: threads.map(|n| n as usize),
            };
            match report::run(&opts, &mut out)? {
                report::Outcome::RulesInvalid(e) => {
                    eprintln!("rhf-analyze: error: the rules do not load:");
                    for err in &e.0 {
                        eprintln!("{}", rhf_analyzer::escape::escape_str(&err.to_string()));
                    }
                    Ok(ExitCode::from(EXIT_RULES_INVALID))
                }
                report::Outcome::Written {
                    to,
                    alerts,
                    findings,
                    notes,
                } => {
                    for n in &notes {
                        note(n);
                    }
                    note(&format!(
                        "report written to {}: {alerts} alert(s), {findings} finding(s)",
                        rhf_analyzer::escape::escape_str(&to)
                    ));
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
        Command::Summary {
            file,
            sort,
            columns,
            per_process,
            pids,
            syscalls,
            failed,
            filter,
            json,
            threads,
        } => {
            let reader = trace::open(&file)?;
            let opts = summary::Options {
                sort,
                columns: columns.map_or_else(|| count::DEFAULT_COLUMNS.to_vec(), |c| c.0),
                per_process,
                filter: event_filter(&reader, &pids, &syscalls, failed, filter.as_deref())?,
            };
            let threads = threads.map(|n| n as usize);
            let collected = scan::in_pool(threads, || summary::collect(&reader, &opts))?;
            for n in scan::integrity_notes(&reader, &collected.failed_chunks) {
                note(&n);
            }
            let tables = summary::tables(&collected, &opts);
            if tables.is_empty() {
                note("no syscall matched");
            }
            if json {
                serde_json::to_writer_pretty(&mut out, &summary::to_json(&tables))
                    .map_err(std::io::Error::from)?;
                writeln!(out)?;
            } else {
                out.write_all(summary::render_text(&tables, &opts.columns).as_bytes())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Print {
            file,
            json,
            pids,
            syscalls,
            failed,
            filter,
            show_secrets,
        } => {
            let reader = trace::open(&file)?;
            let opts = print::Options {
                json,
                filter: event_filter(&reader, &pids, &syscalls, failed, filter.as_deref())?,
                redactor: Redactor::new(show_secrets),
            };
            let failed_chunks = print::run(&reader, &opts, &mut out, &mut |n| note(n))?;
            for n in scan::integrity_notes(&reader, &failed_chunks) {
                note(&n);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Rules {
            file,
            rules: paths,
            json,
            min_priority,
            enable,
            disable,
            list,
            fail_on,
            iso8601,
            show_secrets,
            threads,
        } => {
            let opts = rules::LoadOptions {
                paths,
                min_priority,
                enable,
                disable,
            };
            let engine = match rules::load(&opts) {
                Ok(e) => e,
                Err(e) => {
                    eprintln!("rhf-analyze: error: the rules do not load:");
                    for err in &e.0 {
                        eprintln!("{}", rhf_analyzer::escape::escape_str(&err.to_string()));
                    }
                    return Ok(ExitCode::from(EXIT_RULES_INVALID));
                }
            };
            if list {
                if json {
                    serde_json::to_writer_pretty(&mut out, &rules::list_json(&engine))
                        .map_err(std::io::Error::from)?;
                    writeln!(out)?;
                } else {
                    out.write_all(rules::list_text(&engine).as_bytes())?;
                }
                return Ok(ExitCode::SUCCESS);
            }
            let Some(file) = file else {
                anyhow::bail!("a trace FILE is needed (only --list works without one)");
            };
            let reader = trace::open(&file)?;
            let redactor = Redactor::new(show_secrets);
            let threads = threads.map(|n| n as usize);
            let found = scan::in_pool(threads, || engine.evaluate(&reader, &redactor))?;
            let timeline = &found.timeline;
            for n in &timeline.notes {
                note(&rhf_analyzer::escape::escape_str(n));
            }
            for n in scan::integrity_notes(&reader, &found.failed_chunks) {
                note(&n);
            }
            let clock = rhf_analyzer::clock::Clock::from_header(reader.header());
            let mut worst: Option<Priority> = None;
            for a in &found.alerts {
                let p = engine.rules[a.rule as usize].priority;
                worst = Some(worst.map_or(p, |w| w.min(p)));
                if json {
                    serde_json::to_writer(
                        &mut out,
                        &rules::json_alert(&engine, a, &clock, &timeline.hostname),
                    )
                    .map_err(std::io::Error::from)?;
                    writeln!(out)?;
                } else {
                    writeln!(out, "{}", rules::text_line(&engine, a, &clock, iso8601))?;
                }
            }
            let enabled = engine.rules.iter().filter(|r| r.enabled).count();
            note(&format!(
                "{} alert(s) over {} records; {} rule(s) loaded, {enabled} enabled",
                found.alerts.len(),
                found.events,
                engine.rules.len()
            ));
            match (fail_on, worst) {
                (Some(limit), Some(w)) if w <= limit => Ok(ExitCode::from(EXIT_FAIL_ON)),
                _ => Ok(ExitCode::SUCCESS),
            }
        }
        Command::Timeline {
            file,
            format,
            pid,
            subtree,
            from,
            to,
            filter,
            rules: paths,
            no_alerts,
            no_collapse,
            show_secrets,
            threads,
        } => {
            let reader = trace::open(&file)?;
            let time = |text: Option<String>, flag: &str| {
                text.map(|t| {
                    let parsed = if flag == "--to" {
                        rhf_analyzer::timeline::parse_time_end(&t, reader.header())
                    } else {
                        rhf_analyzer::timeline::parse_time(&t, reader.header())
                    };
                    parsed.map_err(|e| UsageError(format!("{flag}: {e}")))
                })
                .transpose()
            };
            let (from, to) = (time(from, "--from")?, time(to, "--to")?);
            let filter = filter
                .map(|text| {
                    ConditionFilter::new(&text, &reader)
                        .map_err(|e| UsageError(format!("--filter: {e}")))
                })
                .transpose()?;
            let engine = if no_alerts {
                None
            } else {
                match rules::load(&rules::LoadOptions {
                    paths,
                    ..Default::default()
                }) {
                    Ok(e) => Some(e),
                    Err(e) => {
                        eprintln!("rhf-analyze: error: the rules do not load:");
                        for err in &e.0 {
                            eprintln!("{}", rhf_analyzer::escape::escape_str(&err.to_string()));
                        }
                        return Ok(ExitCode::from(EXIT_RULES_INVALID));
                    }
                }
            };
            let opts = rhf_analyzer::timeline::Options {
                pid,
                subtree,
                from,
                to,
                filter,
                collapse: !no_collapse,
                alerts: !no_alerts,
            };
            let redactor = Redactor::new(show_secrets);
            let threads = threads.map(|n| n as usize);
            let found = scan::in_pool(threads, || {
                rhf_analyzer::timeline::collect(&reader, engine.as_ref(), &redactor, &opts)
            })??;
            for n in &found.notes {
                note(&rhf_analyzer::escape::escape_str(n));
            }
            for n in scan::integrity_notes(&reader, &found.failed_chunks) {
                note(&n);
            }
            let clock = rhf_analyzer::clock::Clock::from_header(reader.header());
            timeline::write(&mut out, &found.entries, &clock, format, threads)?;
            note(&format!(
                "{} entries, {} alert(s)",
                found.entries.len(),
                found.alerts
            ));
            Ok(ExitCode::SUCCESS)
        }
        Command::Info {
            file,
            json,
            show_secrets,
        } => {
            let reader = trace::open(&file)?;
            let summary = info::collect(
                &file.display().to_string(),
                &reader,
                &Redactor::new(show_secrets),
            );
            if json {
                serde_json::to_writer_pretty(&mut out, &summary).map_err(std::io::Error::from)?;
                writeln!(out)?;
            } else {
                out.write_all(info::render_text(&summary).as_bytes())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { file } => {
            let name = rhf_analyzer::escape::escape_str(&file.display().to_string());
            match verify::run_path(&file) {
                verify::Verdict::Intact(v) => {
                    writeln!(
                        out,
                        "{name}: intact: {} chunks, {} records, {} bytes\nsha256-chain {}",
                        v.chunks,
                        v.records,
                        v.bytes,
                        rhf_format::hex(&v.digest)
                    )?;
                    Ok(ExitCode::SUCCESS)
                }
                verify::Verdict::Truncated(e) => {
                    eprintln!("{name}: TRUNCATED: {e}");
                    Ok(ExitCode::from(EXIT_TRUNCATED))
                }
                verify::Verdict::Damaged(e) => {
                    eprintln!("{name}: DAMAGED: {e}");
                    Ok(ExitCode::from(EXIT_DAMAGED))
                }
                verify::Verdict::Unreadable(e) => {
                    Err(anyhow::Error::new(e).context(format!("cannot verify {name}")))
                }
            }
        }
    }
}
