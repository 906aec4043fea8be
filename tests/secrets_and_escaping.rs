//! Secrets and hostile names end to end (docs/REDACTION.md): a recorded scenario plants fake
//! secrets in environments, on command lines, in token shapes and in a file it writes and reads
//! back, and runs a process whose name holds an ANSI escape and `<script>`. No view prints a
//! secret without `--show-secrets`, each prints the ones it shows with it, and no view prints
//! the raw escape (nor raw `<script>` in HTML).
//!
//! `timeline` and `report` are checked only when this `rhf-analyze` has them (`rhf-analyze help
//! timeline` succeeds); without them the check is skipped loudly, and under `RHF_STRICT=1` a
//! missing subcommand fails the test.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use rhf::{analyze, is_root, record_clean, require, text};

/// A fake secret: its value and the pieces of it that must not leak on their own either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Secret {
    what: &'static str,
    value: &'static str,
    pieces: &'static [&'static str],
}

/// `--password=...` on a command line.
const PASSWORD: Secret = Secret {
    what: "a --password= value",
    value: "hunter2-SECRET",
    pieces: &["hunter2"],
};
/// The password of `https://user:...@example.invalid/` on a command line.
const URL_PASSWORD: Secret = Secret {
    what: "URL credentials",
    value: "pa55-SECRET",
    pieces: &[],
};
/// An AWS access key id as a plain argument (only its shape gives it away).
const AWS_KEY_ID: Secret = Secret {
    what: "an AWS access key id",
    value: "AKIAQ3EGRHFTESTKEY7Z",
    pieces: &["Q3EGRHFTESTKEY7Z"],
};
/// `AWS_SECRET_ACCESS_KEY` in the environment.
const AWS_SECRET: Secret = Secret {
    what: "AWS_SECRET_ACCESS_KEY",
    value: "rhfTEST/aws+secret/Q1w2E3r4T5y6U7i8O9p0zz",
    pieces: &["aws+secret", "Q1w2E3r4T5y6U7i8O9p0zz"],
};
/// `GITHUB_TOKEN` in the environment.
const GITHUB_TOKEN: Secret = Secret {
    what: "GITHUB_TOKEN",
    value: "ghp_rhfTESTtoken0123456789abcdefABCDEFGH",
    pieces: &["rhfTESTtoken0123456789"],
};
/// A JWT the scenario gets from its environment (RHF_TEST_SESSION), writes to a file and reads
/// back: in the environment, and in write and read buffers.
const JWT: Secret = Secret {
    what: "a JWT",
    value: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJyaGYtdGVzdCIsImFkbWluIjp0cnVlfQ.cmhmLXRlc3Qtc2lnbmF0dXJlLW5vdC1yZWFs",
    pieces: &[
        "eyJzdWIiOiJyaGYtdGVzdCIsImFkbWluIjp0cnVlfQ",
        "cmhmLXRlc3Qtc2lnbmF0dXJlLW5vdC1yZWFs",
    ],
};

const ALL: [Secret; 6] = [
    PASSWORD,
    URL_PASSWORD,
    AWS_KEY_ID,
    AWS_SECRET,
    GITHUB_TOKEN,
    JWT,
];

/// The executable's file name: `comm` is at most 15 bytes, and this is 13.
const HOSTILE_FILE: &str = "\x1b[31m<script>";
/// Its argv[0], longer than `comm` can be.
const HOSTILE_ARGV0: &str = "\x1b[31m<script>alert(1)</script>";

/// The scenario, run as `bash -c` in the trace's directory. The command-line secrets are in
/// this script, so they are on bash's command line too (inside one argument). The hostile
/// names come from the environment.
const SCENARIO: &str = r#"set -e
/bin/true --password=hunter2-SECRET https://user:pa55-SECRET@example.invalid/ AKIAQ3EGRHFTESTKEY7Z
printf '%s\n' "$RHF_TEST_SESSION" > session.jwt
cat session.jwt > /dev/null
(exec -a "$RHF_TEST_ARGV0" "./$RHF_TEST_FILE" 0)
"#;

/// Rules whose outputs show every execve's arguments (argv and envp, whatever the process
/// state), a captured buffer and environments (the default rules show command lines).
const BUFFER_RULES: &str = r#"
- rule: Program Executed
  desc: every successful execve, with its arguments
  condition: evt.type = execve and evt.res = SUCCESS
  output: args=%evt.args envp=%evt.arg.envp
  priority: NOTICE
- rule: Session Token File Accessed
  desc: a read or write of the scenario's token file, with the data and the environment
  condition: evt.type in (read, write) and fd.name endswith session.jwt
  output: data=%evt.buffer file=%fd.name env=%proc.env aws=%proc.env[AWS_SECRET_ACCESS_KEY] command=%proc.cmdline
  priority: WARNING
"#;

/// Records the scenario into `dir/trace.rhf`.
fn record_scenario(dir: &Path) -> PathBuf {
    let hostile = dir.join(HOSTILE_FILE);
    std::fs::copy("/bin/sleep", &hostile).expect("copy /bin/sleep");
    let (mut cmd, trace) = record_clean(dir);
    let out = cmd
        .args([
            "--snaplen",
            "4096",
            "--duration",
            "60s",
            "--",
            "bash",
            "-c",
            SCENARIO,
        ])
        .env("AWS_SECRET_ACCESS_KEY", AWS_SECRET.value)
        .env("GITHUB_TOKEN", GITHUB_TOKEN.value)
        .env("RHF_TEST_SESSION", JWT.value)
        .env("RHF_TEST_FILE", HOSTILE_FILE)
        .env("RHF_TEST_ARGV0", HOSTILE_ARGV0)
        .output()
        .expect("run rhf-record");
    assert!(
        out.status.success(),
        "recording the scenario failed: {}",
        text(&out)
    );
    trace
}

/// Runs `rhf-analyze ARGS` (plus `--show-secrets` when `show`); it must succeed. Standard
/// output only: notes on standard error name no secrets either, but are not the view.
fn run(args: &[&str], show: bool) -> Vec<u8> {
    let mut cmd = analyze();
    cmd.args(args);
    if show {
        cmd.arg("--show-secrets");
    }
    let out = cmd.output().expect("run rhf-analyze");
    assert!(
        out.status.success(),
        "rhf-analyze {args:?} (show_secrets: {show}) failed: {}",
        text(&out)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    for s in ALL {
        assert!(
            !stderr.contains(s.value),
            "rhf-analyze {args:?} wrote {} on standard error",
            s.what
        );
    }
    out.stdout
}

/// How a view's output escapes `<` (besides control characters, escaped in every one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Markup {
    /// Text, JSON, CSV: `<` as is.
    None,
    /// Markdown: `\<`.
    Markdown,
    /// HTML: `&lt;`.
    Html,
}

/// A view and the secrets it shows with `--show-secrets`.
struct View {
    args: Vec<String>,
    shows: Vec<Secret>,
    markup: Markup,
}

impl View {
    fn new(args: &[&str], shows: &[Secret]) -> View {
        View {
            args: args.iter().map(|a| a.to_string()).collect(),
            shows: shows.to_vec(),
            markup: Markup::None,
        }
    }

    fn markup(mut self, markup: Markup) -> View {
        self.markup = markup;
        self
    }

    fn check(&self) {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let hidden = run(&args, false);
        let shown = run(&args, true);
        let hidden_text = String::from_utf8_lossy(&hidden);
        let shown_text = String::from_utf8_lossy(&shown);
        for s in ALL {
            for piece in std::iter::once(&s.value).chain(s.pieces) {
                assert!(
                    !hidden_text.contains(piece),
                    "rhf-analyze {args:?} shows {} ({piece}) without --show-secrets:\n{hidden_text}",
                    s.what
                );
            }
        }
        if !self.shows.is_empty() {
            assert!(
                hidden_text.contains("[REDACTED:"),
                "rhf-analyze {args:?}: no redaction marker:\n{hidden_text}"
            );
        }
        for s in &self.shows {
            assert!(
                shown_text.contains(s.value),
                "rhf-analyze {args:?} --show-secrets does not show {} ({}):\n{shown_text}",
                s.what,
                s.value
            );
        }
        for (output, mode) in [(&hidden, "without"), (&shown, "with")] {
            self.check_escaping(output, &args, mode);
        }
    }

    /// The hostile process appears, escaped: no raw ESC anywhere; `<script>` as text in
    /// plain formats, escaped in Markdown (`\<script\>`) and HTML (`&lt;script&gt;`), where it
    /// never appears raw.
    fn check_escaping(&self, output: &[u8], args: &[&str], mode: &str) {
        let out = String::from_utf8_lossy(output);
        assert!(
            !output.contains(&0x1b),
            "rhf-analyze {args:?} ({mode} --show-secrets) printed a raw ESC byte:\n{out}"
        );
        let shown_as = match self.markup {
            Markup::None => "31m<script>",
            Markup::Markdown => r"31m\<script\>",
            Markup::Html => "31m&lt;script&gt;",
        };
        assert!(
            out.contains(shown_as),
            "rhf-analyze {args:?} ({mode} --show-secrets): the hostile process is not shown as \
             {shown_as}:\n{out}"
        );
        if self.markup != Markup::None {
            assert!(
                !out.contains("<script>"),
                "rhf-analyze {args:?} ({mode} --show-secrets): raw <script> in markup:\n{out}"
            );
        }
    }
}

/// True when this `rhf-analyze` has the subcommand; when not, says so loudly (and fails under
/// `RHF_STRICT=1`).
fn has_subcommand(name: &str) -> bool {
    let exists = analyze()
        .args(["help", name])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    require(
        exists,
        &format!("`rhf-analyze {name}` (its secret and escaping checks are skipped)"),
    )
}

#[test]
fn planted_secrets_stay_hidden_and_hostile_names_stay_escaped_in_every_view() {
    if !require(
        is_root(),
        "root (rhf-record traces the scenario with ptrace)",
    ) || !require(Path::new("/bin/sleep").exists(), "/bin/sleep")
        || !require(Path::new("/bin/bash").exists(), "/bin/bash")
    {
        return;
    }
    // Under /tmp, so the default rule on programs run from temporary directories shows the
    // hostile process in `rules`.
    let dir = tempfile::Builder::new()
        .prefix("rhf-secrets")
        .tempdir_in("/tmp")
        .expect("temporary directory");
    let trace = record_scenario(dir.path());
    let t = trace.to_str().unwrap();
    let rules_file = dir.path().join("buffer-rules.yaml");
    std::fs::write(&rules_file, BUFFER_RULES).unwrap();
    let r = rules_file.to_str().unwrap();

    let command_line = [PASSWORD, URL_PASSWORD, AWS_KEY_ID];
    let environment = [AWS_SECRET, GITHUB_TOKEN, JWT];
    let mut views = vec![
        // Environments: every value, whatever its name.
        View::new(&["env", t], &environment),
        View::new(&["env", "--json", t], &environment),
        // Command lines (each process's last exec).
        View::new(&["ps", t], &command_line),
        View::new(&["ps", "--json", t], &command_line),
        View::new(&["ps", "--tree", t], &command_line),
        // execve argv and the captured buffers; the environment is only ever a count.
        View::new(&["print", t], &[PASSWORD, URL_PASSWORD, AWS_KEY_ID, JWT]),
        View::new(
            &["print", "--json", t],
            &[PASSWORD, URL_PASSWORD, AWS_KEY_ID, JWT],
        ),
        // The default rules show command lines (Secret On Command Line) ...
        View::new(&["rules", t], &command_line),
        View::new(&["rules", "--json", t], &command_line),
        // ... and these rules execve arguments (argv and envp), a buffer and environments.
        View::new(&["rules", "-r", r, t], &ALL),
        View::new(&["rules", "--json", "-r", r, t], &ALL),
        // Secret-named variables and flag values; the key id's shape is not a finding.
        View::new(
            &["findings", t],
            &[PASSWORD, URL_PASSWORD, AWS_SECRET, GITHUB_TOKEN],
        ),
        View::new(
            &["findings", "--json", t],
            &[PASSWORD, URL_PASSWORD, AWS_SECRET, GITHUB_TOKEN],
        ),
    ];
    if has_subcommand("timeline") {
        // Exec command lines.
        for format in ["text", "jsonl", "csv"] {
            views.push(View::new(
                &["timeline", "--format", format, t],
                &command_line,
            ));
        }
    }
    let report = has_subcommand("report");
    if report {
        // Alert evidence: command lines (Secret On Command Line).
        views.push(View::new(&["report", "--format", "json", t], &command_line));
        views.push(
            View::new(&["report", "--format", "md", t], &command_line).markup(Markup::Markdown),
        );
        views.push(
            View::new(&["report", "--format", "html", t], &command_line).markup(Markup::Html),
        );
    }
    for view in &views {
        view.check();
    }
    // Print leaves the environment a count even with --show-secrets.
    let print = String::from_utf8_lossy(&run(&["print", t], true)).into_owned();
    for s in [AWS_SECRET, GITHUB_TOKEN] {
        assert!(!print.contains(s.value), "print shows {}", s.what);
    }
    if report {
        // The report says whether secrets were shown.
        for (show, expected) in [(false, false), (true, true)] {
            let json: serde_json::Value =
                serde_json::from_slice(&run(&["report", "--format", "json", t], show))
                    .expect("report --format json is JSON");
            assert_eq!(
                json["secrets_shown"],
                serde_json::Value::Bool(expected),
                "report --format json: secrets_shown with show_secrets={show}"
            );
        }
    }
}
