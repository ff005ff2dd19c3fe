//! Command-line parsing: the tree is consistent, flags land where they should, and bad
//! arguments are refused with the rule they break.

use super::*;
use clap::CommandFactory;

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("iotcreds").chain(args.iter().copied()))
}

#[test]
fn the_command_tree_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn client_flags_go_anywhere_in_a_group() {
    let cli = parse(&[
        "thing",
        "create",
        "ADCTestThing",
        "--endpoint-url",
        "http://h:1",
        "--output",
        "json",
        "--attribute",
        "env=prod",
    ])
    .unwrap();
    assert_eq!(cli.output, cli::output::Output::Json);
    let text = format!("{cli:?}");
    assert!(
        text.contains("http://h:1") && text.contains("\"env\""),
        "{text}"
    );
}

#[test]
fn bad_arguments_name_the_rule() {
    let err = parse(&["thing", "create", "x", "--attribute", "novalue"]).unwrap_err();
    assert!(err.to_string().contains("expected KEY=VALUE"), "{err}");
    let err = parse(&["cert", "set-status", "abc", "BROKEN"]).unwrap_err();
    assert!(err.to_string().contains("ACTIVE"), "{err}");
    assert!(parse(&["cert", "set-status", "abc", "revoked"]).is_ok());
    let err = parse(&["ca", "register", "--cert", "ca.pem"]).unwrap_err();
    assert!(err.to_string().contains("--verification-cert"), "{err}");
    assert!(parse(&["ca", "register", "--cert", "ca.pem", "--sni-only"]).is_ok());
    assert!(
        parse(&[
            "ca",
            "register",
            "--cert",
            "c",
            "--sni-only",
            "--verification-cert",
            "v"
        ])
        .is_err()
    );
    assert!(
        parse(&[
            "cert",
            "register",
            "--cert",
            "c",
            "--without-ca",
            "--ca-cert",
            "x"
        ])
        .is_err()
    );
    assert!(
        parse(&[
            "pki",
            "device",
            "--ca-cert",
            "c",
            "--ca-key",
            "k",
            "--cn",
            "d"
        ])
        .is_err()
    );
    assert!(
        parse(&[
            "pki",
            "ca",
            "--cert-out",
            "c",
            "--key-out",
            "k",
            "--years",
            "0"
        ])
        .is_err()
    );
    assert!(parse(&["thing", "update", "t", "--merge"]).is_err());
}

#[test]
fn simulate_arguments() {
    let cli = parse(&[
        "policy",
        "simulate",
        "--policy",
        "a.json",
        "b.json",
        "--action",
        "s3:GetObject",
        "--context",
        "aws:SourceIp=10.0.0.1",
        "--kind",
        "trust",
        "--principal-service",
        "credentials.iot.amazonaws.com",
    ])
    .unwrap();
    let text = format!("{cli:?}");
    assert!(text.contains("b.json") && text.contains("Trust"), "{text}");
    assert!(
        parse(&[
            "policy",
            "simulate",
            "--policy",
            "a",
            "--action",
            "x",
            "--principal-service",
            "s",
            "--principal-arn",
            "a"
        ])
        .is_err()
    );
    assert!(parse(&["policy", "simulate", "--action", "x"]).is_err());
}

#[test]
fn device_and_ops_arguments() {
    assert!(
        parse(&[
            "device",
            "credentials",
            "--endpoint",
            "localhost:8443",
            "--cert",
            "c",
            "--key",
            "k",
            "--role-alias",
            "A",
            "--format",
            "env"
        ])
        .is_ok()
    );
    // Certificate, key and alias may come from --config: checked when the command runs.
    assert!(parse(&["device", "credentials", "--config", "agent.toml"]).is_ok());
    assert!(parse(&["device", "credentials", "--format", "yaml"]).is_err());
    assert!(
        parse(&[
            "device",
            "agent",
            "--config",
            "a.toml",
            "--port",
            "0",
            "--imds-port",
            "0"
        ])
        .is_ok()
    );
    assert!(parse(&["device", "agent", "status", "--agent", "127.0.0.1:8770"]).is_ok());
    assert!(parse(&["device", "agent", "--port", "x"]).is_err());
    assert!(parse(&["device", "csr", "--key", "pkcs11:object=k", "--cn", "d"]).is_ok());
    assert!(parse(&["device", "csr", "--cn", "d"]).is_err());
    assert!(parse(&["keys", "rotate", "--registry-url", "postgres://u@h/db"]).is_ok());
    assert!(parse(&["migrate", "--data-dir", "d"]).is_ok());
}
