//! The authorization table: for every operation of the control plane's operation lists (IoT's
//! route table, IAM's table, STS's list), a principal allowed the operation's action on `*`
//! but denied it on the canonical ARN of the resource the request acts on is refused with
//! AWS's `AccessDenied`, naming that ARN, for every spelling of the resource the handler
//! accepts (case, percent-encoding, ...), and the registry is unchanged afterwards. Spellings
//! that name another (absent) resource are refused or change nothing. And the positive
//! direction: allowed on exactly the canonical ARN, the request succeeds.
//!
//! The rows are keyed by operation name; an operation of the lists without a row, or a row
//! without an operation, fails the test.

use std::collections::BTreeMap;

use iotcreds_control::{iam, iot, sts};
use serde_json::{Value, json};

use crate::fixture::*;

mod iam_rows;
mod iot_rows;
mod targets;

use iam_rows::{iam_rows, sts_rows};
use iot_rows::iot_rows;

/// Whether a spelling designates the row's resource (so the decision must be made on that
/// resource's ARN and refuse it) or another one (absent here, so it is refused or a no-op).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Designates {
    Same,
    Other,
}
use Designates::{Other, Same};

/// Where a spelled value travels (percent-encoding is decoded in paths and forms only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Loc {
    Path,
    Form,
    Header,
    Json,
}

/// The kind of identifier a request spells, which decides its variants.
#[derive(Debug, Clone)]
pub(crate) enum Spelling {
    /// `*`: nothing is spelled.
    Any,
    /// An IAM name (roles, users, managed policies at create): matched regardless of case.
    IamName { name: String, create: bool },
    /// An IAM ARN: account and path exact; the name regardless of case for roles and users
    /// (`case_insensitive`), exactly for managed policies.
    IamArn {
        arn: String,
        loc: Loc,
        case_insensitive: bool,
    },
    /// An IoT name: case-sensitive.
    IotName {
        name: String,
        loc: Loc,
        create: bool,
    },
    /// A certificate id in a path: hexadecimal, so any case.
    CertId { id: String },
    /// A certificate ARN.
    CertArn { arn: String, loc: Loc },
    /// The ARN of a named IoT resource (policy, role alias, thing type): the name is
    /// case-sensitive.
    IotArn { arn: String, loc: Loc },
}

/// One resource a row's request names.
pub(crate) struct Target {
    /// The action authorised on it.
    action: &'static str,
    /// Its canonical ARN (`*` for [`Spelling::Any`]).
    canonical: String,
    spelling: Spelling,
    /// For a target the request stores a reference to (a role alias's role): a root call whose
    /// answer shows the stored reference, which must never name the target when the request
    /// was made with a spelling of another, absent resource.
    probe: Option<fn(&Fixture) -> Call>,
}

/// How a row builds its request from one spelling per target.
pub(crate) type Build = Box<dyn Fn(&Fixture, &[String]) -> Call + Send + Sync>;

pub(crate) struct Row {
    targets: Vec<Target>,
    build: Build,
}

fn swap_case(s: &str, upper: bool) -> String {
    if upper {
        s.to_ascii_uppercase()
    } else {
        s.to_ascii_lowercase()
    }
}

/// Replace the last `/`-separated part of an ARN.
fn with_name(arn: &str, f: impl Fn(&str) -> String) -> String {
    let (head, name) = arn.rsplit_once('/').unwrap();
    format!("{head}/{}", f(name))
}

impl Spelling {
    /// The canonical spelling, as sent.
    fn canonical(&self) -> String {
        match self {
            Spelling::Any => String::new(),
            Spelling::IamName { name, .. } | Spelling::IotName { name, .. } => name.clone(),
            Spelling::CertId { id } => id.clone(),
            Spelling::IamArn { arn, loc, .. }
            | Spelling::CertArn { arn, loc }
            | Spelling::IotArn { arn, loc } => {
                if matches!(loc, Loc::Form | Loc::Path) {
                    enc(arn)
                } else {
                    arn.clone()
                }
            }
        }
    }

    /// Every spelling variant, with what it designates (following AWS: see each kind).
    fn variants(&self, account: &str) -> Vec<(String, Designates, &'static str)> {
        let mut v = Vec::new();
        match self {
            Spelling::Any => {}
            Spelling::IamName { name, create } => {
                v.push((name.clone(), Same, "as created"));
                if !*create {
                    // IAM names are unique regardless of case, and looked up so.
                    v.push((swap_case(name, false), Same, "lower case"));
                    v.push((swap_case(name, true), Same, "upper case"));
                }
                v.push((encode_every_byte(name), Same, "percent-encoded"));
                v.push((enc(&encode_every_byte(name)), Other, "double-encoded"));
                v.push((format!("{name}/"), Other, "trailing slash"));
            }
            Spelling::IamArn {
                arn,
                loc,
                case_insensitive,
            } => {
                let send = |s: String| if *loc == Loc::Form { enc(&s) } else { s };
                let name_case = if *case_insensitive { Same } else { Other };
                v.push((send(arn.clone()), Same, "as created"));
                v.push((
                    send(with_name(arn, |n| swap_case(n, false))),
                    name_case,
                    "name in lower case",
                ));
                v.push((
                    send(with_name(arn, |n| swap_case(n, true))),
                    name_case,
                    "name in upper case",
                ));
                v.push((send(arn.replace(PATH, "/")), Other, "without its path"));
                v.push((
                    send(arn.replace(PATH, &PATH.to_ascii_uppercase())),
                    Other,
                    "path in upper case",
                ));
                v.push((
                    send(arn.replace(account, "000000000000")),
                    Other,
                    "another account",
                ));
                v.push((
                    send(arn.replace("arn:aws:", "arn:aws-cn:")),
                    Other,
                    "another partition",
                ));
                v.push((
                    send(arn.replace("iam::", "iam:us-east-1:")),
                    Other,
                    "with a region",
                ));
                v.push((
                    send(arn.replace("arn:aws:iam", "ARN:AWS:IAM")),
                    Other,
                    "prefix in upper case",
                ));
                v.push((send(format!("{arn}/")), Other, "trailing slash"));
                if *loc == Loc::Form {
                    v.push((encode_every_byte(arn), Same, "percent-encoded"));
                    v.push((enc(&encode_every_byte(arn)), Other, "double-encoded"));
                } else {
                    v.push((encode_every_byte(arn), Other, "percent-encoded in JSON"));
                }
            }
            Spelling::IotName { name, loc, create } => {
                v.push((name.clone(), Same, "as created"));
                if !*create {
                    // IoT names are case-sensitive: another case is another (absent) thing.
                    v.push((swap_case(name, false), Other, "lower case"));
                    v.push((swap_case(name, true), Other, "upper case"));
                }
                let once = if *loc == Loc::Path { Same } else { Other };
                v.push((encode_every_byte(name), once, "percent-encoded"));
                v.push((enc(&encode_every_byte(name)), Other, "double-encoded"));
                if *loc == Loc::Path {
                    v.push((format!("{name}/"), Other, "trailing slash"));
                }
            }
            Spelling::CertId { id } => {
                v.push((id.clone(), Same, "as issued"));
                v.push((id.to_ascii_uppercase(), Same, "upper-case hex"));
                v.push((encode_every_byte(id), Same, "percent-encoded"));
                v.push((enc(&encode_every_byte(id)), Other, "double-encoded"));
                v.push((format!("{id}/"), Other, "trailing slash"));
            }
            Spelling::CertArn { arn, loc } | Spelling::IotArn { arn, loc } => {
                let send = |s: String| match loc {
                    Loc::Path | Loc::Form => enc(&s),
                    _ => s,
                };
                v.push((send(arn.clone()), Same, "as issued"));
                if matches!(self, Spelling::CertArn { .. }) {
                    v.push((
                        send(with_name(arn, |n| n.to_ascii_uppercase())),
                        Same,
                        "upper-case hex",
                    ));
                } else {
                    // IoT names are case-sensitive: another case is another (absent) resource.
                    v.push((
                        send(with_name(arn, |n| swap_case(n, false))),
                        Other,
                        "name in lower case",
                    ));
                    v.push((
                        send(with_name(arn, |n| swap_case(n, true))),
                        Other,
                        "name in upper case",
                    ));
                }
                v.push((
                    send(arn.replace(REGION, "us-east-1")),
                    Other,
                    "another region",
                ));
                v.push((
                    send(arn.replace(account, "000000000000")),
                    Other,
                    "another account",
                ));
                v.push((
                    send(arn.replace("arn:aws:", "arn:aws-cn:")),
                    Other,
                    "another partition",
                ));
                v.push((
                    send(arn.replace("arn:aws:iot", "ARN:AWS:IOT")),
                    Other,
                    "prefix in upper case",
                ));
                v.push((send(format!("{arn}/")), Other, "trailing slash"));
                let once = if matches!(loc, Loc::Path | Loc::Form) {
                    Same
                } else {
                    Other
                };
                v.push((encode_every_byte(arn), once, "percent-encoded"));
                v.push((enc(&encode_every_byte(arn)), Other, "double-encoded"));
            }
        }
        v
    }
}

pub(crate) fn any(action: &'static str) -> Target {
    Target {
        action,
        canonical: "*".into(),
        probe: None,
        spelling: Spelling::Any,
    }
}

impl Target {
    /// The same target, with a probe (see [`Target::probe`]).
    fn probed(mut self, probe: fn(&Fixture) -> Call) -> Self {
        self.probe = Some(probe);
        self
    }
}

pub(crate) fn row(
    targets: Vec<Target>,
    build: impl Fn(&Fixture, &[String]) -> Call + Send + Sync + 'static,
) -> Row {
    Row {
        targets,
        build: Box::new(build),
    }
}

/// A policy document.
pub(crate) fn policy(statements: Vec<Value>) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

pub(crate) fn allow(actions: &[&str], resource: &str) -> Value {
    json!({"Effect": "Allow", "Action": actions, "Resource": resource})
}

pub(crate) fn deny(action: &str, resource: &str) -> Value {
    json!({"Effect": "Deny", "Action": action, "Resource": resource})
}

// ---- the test ----------------------------------------------------------------------------

/// Every operation of the three lists, with the action it is authorised as.
fn operations() -> Vec<(Api, &'static str, Option<&'static str>)> {
    let mut ops: Vec<_> = iot::OPERATIONS
        .iter()
        .map(|o| (Api::Iot, o.name, Some(o.action)))
        .collect();
    ops.extend(
        iam::OPERATIONS
            .iter()
            .map(|o| (Api::Iam, o.name, Some(o.action))),
    );
    ops.extend(sts::OPERATIONS.iter().map(|o| (Api::Sts, o.name, o.action)));
    ops
}

/// A fixture and the rows built against it (ids differ per fixture).
struct Run {
    fx: Fixture,
    rows: BTreeMap<&'static str, Row>,
}

impl Run {
    async fn new(api: Api) -> Self {
        let fx = Fixture::new().await;
        let rows = match api {
            Api::Iot => iot_rows(&fx),
            Api::Iam => iam_rows(&fx),
            Api::Sts => sts_rows(&fx),
        };
        Self { fx, rows }
    }
}

/// Check one row: the deny direction for every target and spelling, then the allow direction.
async fn check(api: Api, op: &str, action: Option<&str>) -> Vec<String> {
    let mut failures = Vec::new();
    let mut run = Run::new(api).await;
    let row = &run.rows[op];
    if let Some(action) = action
        && !row.targets.iter().any(|t| t.action == action)
    {
        failures.push(format!("{op}: no target is authorised as {action}"));
    }
    if row.targets.is_empty() {
        // No permission needed (GetCallerIdentity): an explicit deny of everything changes
        // nothing.
        let fx = &run.fx;
        fx.set_caller_policy(&policy(vec![deny("*", "*")])).await;
        let a = fx.send(fx.caller().await, &(row.build)(fx, &[])).await;
        if !a.ok() {
            failures.push(format!("{op}: needs no permission, was refused: {a:?}"));
        }
        return failures;
    }

    // Deny on the canonical ARN of each target in turn, every spelling of it.
    let targets = row.targets.len();
    for i in 0..targets {
        let mut k = 0;
        let mut fresh = true;
        loop {
            let row = &run.rows[op];
            let fx = &run.fx;
            let target = &row.targets[i];
            let variants = target.spelling.variants(&fx.account);
            let Some((spelled, designates, label)) = variants.get(k).cloned() else {
                break;
            };
            if fresh {
                let actions: Vec<&str> = row.targets.iter().map(|t| t.action).collect();
                fx.set_caller_policy(&policy(vec![
                    allow(&actions, "*"),
                    deny(target.action, &target.canonical),
                ]))
                .await;
                fresh = false;
            }
            let mut spellings: Vec<String> =
                row.targets.iter().map(|t| t.spelling.canonical()).collect();
            spellings[i] = spelled.clone();
            let call = (row.build)(fx, &spellings);
            let before = fx.generation().await;
            let a = fx.send(fx.caller().await, &call).await;
            let changed = fx.generation().await != before;
            let what = format!("{op} [{}] {label} ({spelled})", target.action);
            match designates {
                Same => {
                    if changed {
                        failures.push(format!("{what}: the registry changed: {a:?}"));
                    }
                    if !a.access_denied() {
                        failures.push(format!("{what}: expected AccessDenied, got {a:?}"));
                    } else if !a
                        .message
                        .contains(&format!("on resource: {} ", target.canonical))
                    {
                        failures.push(format!(
                            "{what}: the refusal does not name {}: {}",
                            target.canonical, a.message
                        ));
                    } else if !a.message.contains(target.action) {
                        failures.push(format!(
                            "{what}: the refusal does not name the action: {}",
                            a.message
                        ));
                    }
                }
                Other => {
                    if a.ok() && target.canonical != "*" && a.body.contains(&target.canonical) {
                        failures.push(format!(
                            "{what}: answered about {}: {a:?}",
                            target.canonical
                        ));
                    }
                    if changed {
                        // Only a reference may have been stored (an alias naming a role that
                        // does not exist under that spelling), and never to the target.
                        match target.probe {
                            None => failures.push(format!("{what}: the registry changed: {a:?}")),
                            Some(probe) => {
                                let p = fx.send(fx.root_principal(), &probe(fx)).await;
                                if !p.ok() || p.body.contains(&target.canonical) {
                                    failures.push(format!(
                                        "{what}: now refers to {}: {p:?}",
                                        target.canonical
                                    ));
                                }
                            }
                        }
                        run = Run::new(api).await;
                        fresh = true;
                    }
                }
            }
            k += 1;
        }
    }

    // Allowed on exactly the canonical ARNs (and nothing else): the request succeeds.
    let row = &run.rows[op];
    let fx = &run.fx;
    let allows: Vec<Value> = row
        .targets
        .iter()
        .map(|t| allow(&[t.action], &t.canonical))
        .collect();
    fx.set_caller_policy(&policy(allows)).await;
    let canonical: Vec<String> = row.targets.iter().map(|t| t.spelling.canonical()).collect();
    let a = fx
        .send(fx.caller().await, &(row.build)(fx, &canonical))
        .await;
    if !a.ok() {
        failures.push(format!(
            "{op}: allowed on its canonical ARNs, was refused: {a:?}"
        ));
    }
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_decides_on_the_canonical_resource() {
    let fx = Fixture::new().await;
    let tables = [
        (Api::Iot, iot_rows(&fx)),
        (Api::Iam, iam_rows(&fx)),
        (Api::Sts, sts_rows(&fx)),
    ];
    let ops = operations();
    let mut failures = Vec::new();
    // Every operation has a row, every row an operation.
    for (api, rows) in &tables {
        for name in rows.keys() {
            if !ops.iter().any(|(a, n, _)| a == api && n == name) {
                failures.push(format!("{api:?} row {name}: no such operation"));
            }
        }
    }
    for (api, name, _) in &ops {
        let rows = &tables.iter().find(|(a, _)| a == api).unwrap().1;
        if !rows.contains_key(name) {
            failures.push(format!(
                "{api:?} operation {name} has no row in the authorization table"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    drop(fx);

    for (api, name, action) in &ops {
        failures.extend(check(*api, name, *action).await);
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
