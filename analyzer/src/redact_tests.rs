use std::borrow::Cow;

use super::*;

fn argv(args: &[&str]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.as_bytes().to_vec()).collect()
}

fn redacted(args: &[&str]) -> Vec<String> {
    Redactor::new(false)
        .argv(&argv(args))
        .into_iter()
        .map(|a| String::from_utf8(a).unwrap())
        .collect()
}

#[test]
fn the_marker_is_a_stable_short_hash() {
    // sha256("hunter2") = f52fbd32b2b3b86ff88ef6c490628285f482af15ddcb29541f94bcf526a3f6c7
    assert_eq!(marker(b"hunter2"), "[REDACTED:f52fbd32]");
    assert_eq!(marker(b"hunter2"), marker(b"hunter2"));
    assert_ne!(marker(b"hunter2"), marker(b"hunter3"));
}

#[test]
fn secret_flag_values_are_redacted_in_both_forms() {
    let m = marker(b"hunter2");
    assert_eq!(
        redacted(&["mysql", "--password=hunter2", "db"]),
        ["mysql", &format!("--password={m}"), "db"]
    );
    assert_eq!(
        redacted(&["app", "--token", "hunter2", "--port", "80"]),
        ["app", "--token", &m, "--port", "80"]
    );
    assert_eq!(
        redacted(&[
            "kube-apiserver",
            "--service-account-key-file=hunter2",
            "-api-key",
            "hunter2"
        ]),
        [
            "kube-apiserver",
            &format!("--service-account-key-file={m}"),
            "-api-key",
            &m
        ]
    );
    assert_eq!(
        redacted(&["x", "--client_secret=hunter2"])[1],
        format!("--client_secret={m}")
    );
    assert_eq!(
        redacted(&["x", "--token-auth-file=hunter2"])[1],
        format!("--token-auth-file={m}")
    );
}

#[test]
fn harmless_arguments_are_left_alone() {
    for args in [
        &["sleep", "100"][..],
        &["docker", "login", "--password-stdin", "-u", "bob"],
        &["x", "--password="],
        &["x", "--token"],
        &["x", "--no-password", "dbname"],
        &["x", "--keyboard=us", "--port=80", "monkey=1"],
        &["curl", "https://example.com/a:b@c"],
        &["curl", "https://user@example.com/"],
        &["env", "PATH=/bin", "GPG_KEY=0123"],
    ] {
        let a = argv(args);
        assert_eq!(Redactor::new(false).argv(&a), a, "{args:?}");
        assert!(cmdline_secrets(&a).is_empty(), "{args:?}");
    }
}

#[test]
fn assignments_and_url_credentials_are_redacted() {
    let m = marker(b"hunter2");
    assert_eq!(
        redacted(&[
            "env",
            "AWS_SECRET_ACCESS_KEY=hunter2",
            "DB_PASSWORD=hunter2",
            "run"
        ]),
        [
            "env",
            &format!("AWS_SECRET_ACCESS_KEY={m}"),
            &format!("DB_PASSWORD={m}"),
            "run"
        ]
    );
    assert_eq!(
        redacted(&[
            "psql",
            "postgres://app:hunter2@db:5432/x",
            "--url=https://u:hunter2@h/"
        ]),
        [
            "psql",
            &format!("postgres://app:{m}@db:5432/x"),
            &format!("--url=https://u:{m}@h/")
        ]
    );
    let two = redacted(&["x", "a=ftp://u:hunter2@h b=ssh://v:hunter2@k"]);
    assert_eq!(two[1], format!("a=ftp://u:{m}@h b=ssh://v:{m}@k"));
    let s = cmdline_secrets(&argv(&["x", "redis://:p@ss@cache:6379"]));
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].name, b"redis://");
    assert_eq!(
        redacted(&["x", "redis://:p@ss@cache:6379"])[1],
        format!("redis://:{}@cache:6379", marker(b"p@ss"))
    );
}

#[test]
fn secrets_are_named_by_their_flag() {
    let s = cmdline_secrets(&argv(&[
        "x",
        "--password",
        "a",
        "--db-token=b",
        "postgres://u:c@h",
    ]));
    let names: Vec<_> = s
        .iter()
        .map(|s| (String::from_utf8_lossy(&s.name).into_owned(), s.form))
        .collect();
    assert_eq!(
        names,
        [
            ("--password".to_string(), SecretForm::FlagSeparate),
            ("--db-token".to_string(), SecretForm::FlagJoined),
            ("postgres://u".to_string(), SecretForm::UrlCredentials),
        ]
    );
}

#[test]
fn show_secrets_lets_everything_through() {
    let a = argv(&["x", "--password=hunter2"]);
    assert_eq!(Redactor::new(true).argv(&a), a);
    assert_eq!(Redactor::new(true).env_value(b"v"), b"v");
    assert_eq!(
        Redactor::new(false).env_value(b"hunter2"),
        marker(b"hunter2").as_bytes()
    );
}

#[test]
fn env_names_follow_the_rules() {
    for yes in [
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "GITHUB_TOKEN",
        "db_password",
        "PGPASSWD",
        "STRIPE_API_KEY",
        "MY_KEY",
        "SERVICE_KEY_ID",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "CLIENT_SECRET_X",
        "DATABASE_URL",
    ] {
        assert!(is_secret_env_name(yes.as_bytes()), "{yes}");
    }
    for no in [
        "PATH",
        "HOME",
        "GPG_KEY",
        "STRIPE_PUBLIC_KEY",
        "KEYMAP",
        "LANG",
        "PWD",
        "OLDPWD",
    ] {
        assert!(!is_secret_env_name(no.as_bytes()), "{no}");
    }
}

#[test]
fn hostile_bytes_do_not_panic() {
    for arg in [
        &b"--password=\xff\xfe"[..],
        b"://",
        b"a://@",
        b"a://:@",
        b"\xff://u:\xff@h",
        b"=",
        b"-=",
        b"--=x",
    ] {
        let a = vec![b"x".to_vec(), arg.to_vec(), b"\xff".to_vec()];
        let _ = Redactor::new(false).argv(&a);
    }
}

// ---- Token shapes ------------------------------------------------------------------------

/// Fake credentials of every shape: documented examples or made-up values.
const AWS_ID: &str = "AKIAIOSFODNN7EXAMPLE";
const AWS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const GITHUB: &str = "ghp_R4nd0mL00k1ngT0k3nF0rTh3T3st5xYz0123";
const JWT: &str =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJyaGYtdGVzdCJ9.c2lnbmF0dXJlLW5vdC1yZWFs";

fn kinds(text: &str) -> Vec<(TokenKind, String)> {
    text_secrets(text.as_bytes())
        .into_iter()
        .map(|s| (s.kind, text[s.range].to_string()))
        .collect()
}

fn text_redacted(text: &str) -> String {
    String::from_utf8(Redactor::new(false).text(text.as_bytes()).into_owned()).unwrap()
}

#[test]
fn every_token_shape_is_found() {
    let pem_body = "\nMIIEowIBAAKCAQEAfakefakefake\nZm9vYmFy\n";
    let cases: Vec<(String, TokenKind, String)> = vec![
        (
            format!("id={AWS_ID} "),
            TokenKind::AwsAccessKeyId,
            AWS_ID.into(),
        ),
        (
            "key ASIAY34FZKBOKMUTVV7A,".into(),
            TokenKind::AwsAccessKeyId,
            "ASIAY34FZKBOKMUTVV7A".into(),
        ),
        (
            format!("aws_secret_access_key = {AWS_SECRET}\n"),
            TokenKind::AwsSecretAccessKey,
            AWS_SECRET.into(),
        ),
        (
            format!("{{\"AWS_SECRET_ACCESS_KEY\": \"{AWS_SECRET}\"}}"),
            TokenKind::AwsSecretAccessKey,
            AWS_SECRET.into(),
        ),
        (
            format!("token: {GITHUB}"),
            TokenKind::GitHubToken,
            GITHUB.into(),
        ),
        (
            "gho_16C7e42F292c6912E7710c838347Ae178B4a".into(),
            TokenKind::GitHubToken,
            "gho_16C7e42F292c6912E7710c838347Ae178B4a".into(),
        ),
        (
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuv".into(),
            TokenKind::GitHubToken,
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuv".into(),
        ),
        (
            "SLACK=xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOp".into(),
            TokenKind::SlackToken,
            "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOp".into(),
        ),
        (format!("jwt {JWT} end"), TokenKind::Jwt, JWT.into()),
        (
            "Cookie: s=eyJhbGciOiJub25lIn0.eyJ1c2VyIjoicm9vdCJ9.;".into(),
            TokenKind::Jwt,
            "eyJhbGciOiJub25lIn0.eyJ1c2VyIjoicm9vdCJ9.".into(),
        ),
        (
            format!("-----BEGIN RSA PRIVATE KEY-----{pem_body}-----END RSA PRIVATE KEY-----\n"),
            TokenKind::PrivateKey,
            pem_body.into(),
        ),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAA".into(),
            TokenKind::PrivateKey,
            "\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAA".into(),
        ),
        (
            "key=AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW&q=x".into(),
            TokenKind::GoogleApiKey,
            "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW".into(),
        ),
        (
            "Authorization: Bearer abc123.def456-ghi_789\r\n".into(),
            TokenKind::BearerToken,
            "abc123.def456-ghi_789".into(),
        ),
        (
            "GET https://admin:s3cret@db.example.invalid/x".into(),
            TokenKind::UrlCredentials,
            "s3cret".into(),
        ),
    ];
    for (text, kind, secret) in cases {
        assert_eq!(kinds(&text), [(kind, secret.clone())], "{text:?}");
        let shown = text_redacted(&text);
        assert!(!shown.contains(&secret), "{shown}");
        assert!(shown.contains(&marker(secret.as_bytes())), "{shown}");
    }
}

#[test]
fn labels_around_a_token_stay_visible() {
    assert_eq!(
        text_redacted("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----"),
        format!(
            "-----BEGIN EC PRIVATE KEY-----{}-----END EC PRIVATE KEY-----",
            marker(b"\nAAAA\n")
        )
    );
    assert_eq!(
        text_redacted(&format!("aws_secret_access_key={AWS_SECRET}")),
        format!("aws_secret_access_key={}", marker(AWS_SECRET.as_bytes()))
    );
    // Two shapes in one text, and the same secret gives the same marker wherever it is.
    let two = text_redacted(&format!("{AWS_ID} and {JWT}"));
    assert_eq!(
        two,
        format!(
            "{} and {}",
            marker(AWS_ID.as_bytes()),
            marker(JWT.as_bytes())
        )
    );
    assert_eq!(
        Redactor::new(false).env_value(GITHUB.as_bytes()),
        text_redacted(GITHUB).as_bytes()
    );
}

#[test]
fn ordinary_text_has_no_token() {
    for text in [
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/home/alice/.ssh/id_rsa.pub",
        "/var/lib/docker/overlay2/4f1d2c3b5a6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7a8/merged",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "d41d8cd98f00b204e9800998ecf8427e",
        "123e4567-e89b-12d3-a456-426614174000",
        // base64 of short text, and base64 of JSON without the dots of a JWT.
        "aGVsbG8gd29ybGQ=",
        "eyJhdXRocyI6e319",
        "eyJhbGciOiJIUzI1NiJ9",
        "ASIATIC PACIFIC",
        "ASIATICPACIFICREGIONS2024",
        "AKIA",
        "THE_AKIAIOSFODNN7EXAMPLE_CONST",
        "ghp_short",
        "xoxb-",
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
        "grep -rl 'BEGIN RSA PRIVATE KEY' /home",
        "-----BEGIN RSA PRIVATE KEY-----",
        "-----BEGIN RSA PRIVATE KEY-----\n-----END RSA PRIVATE KEY-----",
        "Bearer authentication is described in RFC 6750",
        "aws_secret_access_key=$AWS_SECRET",
        "https://user@example.com/path",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin",
        "version 1.2.3-rc.4+build.5",
        "[REDACTED:f52fbd32]",
    ] {
        assert_eq!(kinds(text), [], "{text:?}");
        assert!(
            matches!(Redactor::new(false).text(text.as_bytes()), Cow::Borrowed(_)),
            "{text:?}"
        );
    }
}

#[test]
fn token_shapes_on_a_command_line_are_redacted() {
    let m_id = marker(AWS_ID.as_bytes());
    assert_eq!(
        redacted(&["aws-tool", AWS_ID, "--region", "eu-west-1"]),
        ["aws-tool", &m_id, "--region", "eu-west-1"]
    );
    let header = format!("Authorization: Bearer {GITHUB}");
    let shown = redacted(&["curl", "-H", &header, "https://api.example.invalid/"]);
    assert_eq!(
        shown[2],
        format!("Authorization: Bearer {}", marker(GITHUB.as_bytes()))
    );
    // A flag value already replaced keeps the flag rule's marker: the same as the token's.
    assert_eq!(
        redacted(&["x", &format!("--token={GITHUB}")])[1],
        format!("--token={}", marker(GITHUB.as_bytes()))
    );
    assert_eq!(
        redacted(&["x", &format!("--id={AWS_ID}x")])[1],
        format!("--id={AWS_ID}x"),
        "not a key id: glued to more letters"
    );
}

#[test]
fn show_secrets_leaves_text_alone() {
    let text = format!("{AWS_ID} {JWT}");
    assert_eq!(
        Redactor::new(true).text(text.as_bytes()).as_ref(),
        text.as_bytes()
    );
    assert_eq!(
        Redactor::new(true).argv(&argv(&["x", AWS_ID])),
        argv(&["x", AWS_ID])
    );
}

#[test]
fn hostile_text_does_not_panic_or_crawl() {
    let mut big = Vec::new();
    for _ in 0..2000 {
        big.extend_from_slice(b"-----BEGIN RSA PRIVATE KEY-----eyJaaaaaaaaaa.");
        big.extend_from_slice(&[0xff, 0, b'\n']);
    }
    let start = std::time::Instant::now();
    let _ = Redactor::new(false).text(&big);
    let _ = Redactor::new(false).text(b"\xff\xfeAKIA\xff://:@\xff");
    assert!(start.elapsed() < std::time::Duration::from_secs(2));
}

#[test]
fn command_line_rules_apply_to_the_words_of_free_text() {
    let m = marker(b"hunter2");
    for (text, shown) in [
        (
            "#!/bin/sh\nmysql --password=hunter2 db\n".to_string(),
            format!("#!/bin/sh\nmysql --password={m} db\n"),
        ),
        (
            "curl --token 'hunter2' https://x/".into(),
            format!("curl --token '{m}' https://x/"),
        ),
        (
            "export DB_PASSWORD=\"hunter2\"; run".into(),
            format!("export DB_PASSWORD=\"{m}\"; run"),
        ),
        (
            "[\"app\", \"--api-key=hunter2\"]".into(),
            format!("[\"app\", \"--api-key={m}\"]"),
        ),
        (
            // An environ block: NUL-separated.
            "PATH=/bin\0GITHUB_TOKEN=hunter2\0HOME=/root\0".into(),
            format!("PATH=/bin\0GITHUB_TOKEN={m}\0HOME=/root\0"),
        ),
        (
            "postgres://app:hunter2@db/x and --secret hunter2".into(),
            format!("postgres://app:{m}@db/x and --secret {m}"),
        ),
    ] {
        assert_eq!(text_redacted(&text), shown, "{text:?}");
        // Redacting twice changes nothing.
        assert_eq!(text_redacted(&shown), shown, "{shown:?}");
    }
    // References to secrets are not secrets; harmless words stay.
    for text in [
        "mysql --password=\"$DB_PASSWORD\" db",
        "curl --token ${TOKEN} https://x/",
        "the key to success; a keyboard=us; passing tests",
        "--password-stdin < file",
    ] {
        assert_eq!(text_redacted(text), text);
    }
}

#[test]
fn a_whole_command_in_one_argument_is_redacted() {
    let m = marker(b"hunter2");
    assert_eq!(
        redacted(&[
            "sh",
            "-c",
            "/bin/true --password=hunter2 AKIAIOSFODNN7EXAMPLE"
        ]),
        [
            "sh",
            "-c",
            &format!("/bin/true --password={m} {}", marker(AWS_ID.as_bytes()))
        ]
    );
    // Markers the flag rules put in are not redacted again.
    for args in [
        &["x", "--password", "hunter2"][..],
        &["x", "--password=hunter2"],
        &["x", "DB_TOKEN=hunter2", "postgres://u:hunter2@h/"],
    ] {
        let once = Redactor::new(false).argv(&argv(args));
        assert!(once.iter().all(|a| !a.windows(7).any(|w| w == b"hunter2")));
        assert_eq!(Redactor::new(false).argv(&once), once, "{args:?}");
    }
}
