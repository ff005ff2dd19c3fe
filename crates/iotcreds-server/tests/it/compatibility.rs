//! The AWS compatibility tables (README's summary, docs/compatibility.md's per-service tables)
//! are generated here from the operation tables the server answers from (IoT's routes, IAM's
//! and STS's dispatch tables, the S3 authorisation table with its `served` flags) and from
//! botocore's list of each service's operations (tests/data/aws-operations.txt, written by
//! `scripts/aws-operations`), so they cannot drift: a new operation, or one no longer served,
//! changes the generated text and this test fails until the documents are regenerated with
//! `IOTCREDS_BLESS=1 cargo test -p iotcreds-server --test it compatibility`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;

use crate::s3_authz;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// botocore's version and each service's operations.
fn aws_operations() -> (String, impl Fn(&str) -> BTreeSet<String>) {
    let text = std::fs::read_to_string(root().join("tests/data/aws-operations.txt"))
        .expect("tests/data/aws-operations.txt (scripts/aws-operations writes it)");
    let version = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("# "))
        .and_then(|l| l.split(':').next())
        .expect("a '# botocore <version>: ...' first line")
        .to_owned();
    let rows: Vec<(String, String)> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (s, op) = l.split_once(' ').expect("<service> <operation>");
            (s.to_owned(), op.to_owned())
        })
        .collect();
    let of = move |service: &str| {
        rows.iter()
            .filter(|(s, _)| s == service)
            .map(|(_, op)| op.clone())
            .collect()
    };
    (version, of)
}

/// One service's table: what is served (with how it is called and authorised), what iotcreds
/// adds, what it does not serve.
struct Service {
    title: &'static str,
    anchor: &'static str,
    /// (operation, how it is called, what it is authorised as)
    served: Vec<(String, String, String)>,
    aws: BTreeSet<String>,
    note: &'static str,
}

impl Service {
    fn served_names(&self) -> BTreeSet<String> {
        self.served.iter().map(|(n, _, _)| n.clone()).collect()
    }

    fn counts(&self) -> (usize, usize, usize) {
        let names = self.served_names();
        let of_aws = names.intersection(&self.aws).count();
        (of_aws, self.aws.len(), names.len() - of_aws)
    }

    fn render(&self, out: &mut String) {
        let names = self.served_names();
        let (of_aws, total, extensions) = self.counts();
        let _ = writeln!(out, "## {}\n", self.title);
        let _ = writeln!(
            out,
            "{} {of_aws} of the {total} operations in botocore's model are served{}.\n",
            self.note,
            if extensions > 0 {
                format!(", plus {extensions} iotcreds extensions")
            } else {
                String::new()
            }
        );
        let _ = writeln!(out, "| Operation | Request | Authorised as |");
        let _ = writeln!(out, "| --- | --- | --- |");
        let mut served = self.served.clone();
        served.sort();
        for (name, request, action) in &served {
            let ext = if self.aws.contains(name) {
                ""
            } else {
                " (iotcreds extension)"
            };
            let _ = writeln!(out, "| `{name}`{ext} | {request} | {action} |");
        }
        let missing: Vec<String> = self
            .aws
            .difference(&names)
            .map(|n| format!("`{n}`"))
            .collect();
        if !missing.is_empty() {
            let _ = writeln!(out, "\nNot served: {}.", missing.join(", "));
        }
        out.push('\n');
    }
}

fn services() -> (String, Vec<Service>) {
    let (version, aws) = aws_operations();
    let iot = Service {
        title: "AWS IoT (control plane)",
        anchor: "aws-iot-control-plane",
        served: iotcreds_control::iot::OPERATIONS
            .iter()
            .map(|o| {
                (
                    o.name.to_owned(),
                    format!("`{} {}`", o.method, o.path),
                    format!("`{}`", o.action),
                )
            })
            .collect(),
        aws: aws("iot"),
        note: "REST-JSON at the API endpoint, signed for `iot`.",
    };
    let iam = Service {
        title: "IAM",
        anchor: "iam",
        served: iotcreds_control::iam::OPERATIONS
            .iter()
            .map(|o| {
                (
                    o.name.to_owned(),
                    "Query".to_owned(),
                    format!("`{}`", o.action),
                )
            })
            .collect(),
        aws: aws("iam"),
        note: "The Query protocol at the API endpoint, signed for `iam`.",
    };
    let sts = Service {
        title: "STS",
        anchor: "sts",
        served: iotcreds_control::sts::OPERATIONS
            .iter()
            .map(|o| {
                (
                    o.name.to_owned(),
                    "Query".to_owned(),
                    o.action
                        .map_or_else(|| "(no permission needed)".to_owned(), |a| format!("`{a}`")),
                )
            })
            .collect(),
        aws: aws("sts"),
        note: "The Query protocol at the API endpoint, signed for `sts`.",
    };
    let s3 = Service {
        title: "S3",
        anchor: "s3",
        served: s3_authz::served_operations()
            .into_iter()
            .map(|(op, request, action)| {
                (op.to_owned(), format!("`{request}`"), format!("`{action}`"))
            })
            .collect(),
        // POST Object (browser form uploads) is in the S3 API reference, not in the SDKs'
        // models.
        aws: aws("s3")
            .into_iter()
            .chain(["PostObject".to_owned()])
            .collect(),
        note: "Path-style and virtual-hosted-style at the API endpoint, signed for `s3`, on \
               the embedded store and through an upstream S3 server alike.",
    };
    (version, vec![iot, iam, sts, s3])
}

/// The README's summary table.
fn summary(version: &str, services: &[Service]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| Service | Operations served | In {version}'s model | iotcreds extensions |"
    );
    let _ = writeln!(out, "| --- | --- | --- | --- |");
    for s in services {
        let (of_aws, total, ext) = s.counts();
        let _ = writeln!(
            out,
            "| [{}](docs/compatibility.md#{}) | {of_aws} | {total} | {ext} |",
            s.title, s.anchor
        );
    }
    out
}

fn details(version: &str, services: &[Service]) -> String {
    let mut out =
        format!("Generated from the server's operation tables and {version}'s service models.\n\n");
    for s in services {
        s.render(&mut out);
    }
    out
}

/// `text` with the region between `<!-- BEGIN GENERATED name -->` and `<!-- END GENERATED
/// name -->` replaced by `body`.
fn with_region(text: &str, name: &str, body: &str) -> String {
    let begin = format!("<!-- BEGIN GENERATED {name} -->\n");
    let end = format!("<!-- END GENERATED {name} -->");
    let i = text
        .find(&begin)
        .unwrap_or_else(|| panic!("no {begin:?} marker"))
        + begin.len();
    let j = text[i..]
        .find(&end)
        .unwrap_or_else(|| panic!("no {end:?} marker"))
        + i;
    format!("{}{body}{}", &text[..i], &text[j..])
}

#[test]
fn the_compatibility_tables_are_generated_from_the_operation_tables() {
    let (version, services) = services();
    let mut stale = Vec::new();
    for (file, region, body) in [
        (
            "README.md",
            "compatibility-summary",
            summary(&version, &services),
        ),
        (
            "docs/compatibility.md",
            "compatibility",
            details(&version, &services),
        ),
    ] {
        let path = root().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let want = with_region(&text, region, &body);
        if want != text {
            if std::env::var_os("IOTCREDS_BLESS").is_some() {
                std::fs::write(&path, want).unwrap();
            } else {
                stale.push(file);
            }
        }
    }
    assert!(
        stale.is_empty(),
        "{stale:?} out of date: run IOTCREDS_BLESS=1 cargo test -p iotcreds-server --test it compatibility"
    );
}

#[test]
fn every_served_operation_is_named_as_aws_names_it_or_is_an_extension() {
    // A typo in a table would show as an "extension": the extensions are exactly these.
    let (_, services) = services();
    let extensions: Vec<String> = services
        .iter()
        .flat_map(|s| {
            s.served_names()
                .difference(&s.aws)
                .cloned()
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        extensions,
        [
            "DeleteCACertificateCrl",
            "ImportCACertificateCrl",
            "RevokeThingSessions",
            "UpdateCACertificateRevocationConfig",
        ],
        "operations not in botocore's model"
    );
}
