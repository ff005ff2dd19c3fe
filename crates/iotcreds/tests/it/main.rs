//! The `iotcreds` binary as a process (the interop tests in `tests/interop` drive it with real
//! clients; `scripts/test` runs them with the binary this test target makes cargo build).

use std::process::Command;

fn iotcreds() -> Command {
    Command::new(env!("CARGO_BIN_EXE_iotcreds"))
}

/// `serve` with `config` as its TOML file: (exit code, stderr, whether the data dir exists).
fn serve_with(config: &str) -> (Option<i32>, String, bool) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iotcreds.toml");
    std::fs::write(&path, config).unwrap();
    let data = dir.path().join("data");
    let out = iotcreds()
        .args(["serve", "--config"])
        .arg(&path)
        .arg("--data-dir")
        .arg(&data)
        .args([
            "--credentials-addr",
            "127.0.0.1:0",
            "--api-addr",
            "127.0.0.1:0",
        ])
        .args(["--admin-addr", "127.0.0.1:0"])
        .args(["--console-addr", "127.0.0.1:0"])
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        data.exists(),
    )
}

#[test]
fn serve_refuses_an_upstream_backend_without_its_settings_and_starts_nothing() {
    let (code, stderr, created) = serve_with("[objects]\nbackend = \"upstream\"\n");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("objects.upstream"), "{stderr}");
    assert!(
        !created,
        "nothing is created for a configuration that cannot work"
    );
}

#[test]
fn serve_names_a_bad_upstream_setting_and_never_prints_the_secret() {
    let (code, stderr, created) = serve_with(
        "[objects.upstream]\nendpoint = \"ftp://minio.internal\"\n\
         access_key_id = \"iotcreds-gateway\"\nsecret_access_key = \"very-secret-value\"\n",
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("objects.upstream.endpoint"), "{stderr}");
    assert!(!stderr.contains("very-secret-value"), "{stderr}");
    assert!(!created);

    let (code, stderr, _) = serve_with("[objects.upstream]\nendpoint = \"http://h\"\nnope = 1\n");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("nope"), "unknown keys are named: {stderr}");
}
