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
