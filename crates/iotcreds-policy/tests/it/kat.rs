//! Known-answer tests from the AWS documentation, read from `tests/kat/*.json`.
//!
//! Each file names the documentation page it encodes (`page`) and may hold named policies
//! (`policies`). Each case is one of:
//!
//! * an evaluation: `identity` / `resource` / `session` / `boundary` lists (policy names or
//!   inline `{"kind", "document" | "text"}` objects), a `request` (`action`, `resource`,
//!   optional `principal` and `context`), the expected `expect` (`allowed`, `explicitDeny`,
//!   `implicitDeny`), and optionally the deciding `statements` (`[policy, index]` pairs) and
//!   `missing` context keys;
//! * a grammar check: `parse` (`kind` and `document` or `text`; or `target` instead of
//!   `kind` to check the document as IAM or AWS IoT does before storing it, see
//!   [`Policy::validate`]) with `expect_error` (a substring of the error as displayed, or
//!   `null` when the document must be accepted), optionally `expect_message` (AWS's message,
//!   compared exactly; the case must then name in `wording` where that wording was observed)
//!   and the `statement` index and `element` the error must name;
//! * a size check: `size` (`limit`, `document` or `text`) with `expect_ok`.
//!
//! Every case carries a citation: its own `cite`, or the file's `page`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use iotcreds_policy::{
    Context, Effect, EvalInput, Policy, PolicyKind, PolicyRef, Request, RequestPrincipal,
    SizeLimit, Target, check_size, evaluate, evaluate_effect,
};
use serde_json::Value;

fn kat_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kat")
}

fn kind_of(name: &str) -> PolicyKind {
    match name {
        "identity" => PolicyKind::Identity,
        "trust" => PolicyKind::Trust,
        "resource" => PolicyKind::Resource,
        "iot" => PolicyKind::Iot,
        "session" => PolicyKind::Session,
        other => panic!("unknown policy kind {other:?}"),
    }
}

fn target_of(name: &str) -> Target {
    match name {
        "managed" => Target::ManagedPolicy,
        "inline" => Target::InlinePolicy,
        "trust" => Target::TrustPolicy,
        "iot" => Target::IotPolicy,
        other => panic!("unknown target {other:?}"),
    }
}

fn limit_of(name: &str) -> SizeLimit {
    match name {
        "IotPolicy" => SizeLimit::IotPolicy,
        "RoleInline" => SizeLimit::RoleInline,
        "Managed" => SizeLimit::Managed,
        "TrustPolicy" => SizeLimit::TrustPolicy,
        "UserInline" => SizeLimit::UserInline,
        other => panic!("unknown size limit {other:?}"),
    }
}

/// The text of a policy object: `text` verbatim, or `document` serialised.
fn text_of(spec: &Value) -> String {
    if let Some(text) = spec.get("text").and_then(Value::as_str) {
        return text.to_owned();
    }
    let document = spec
        .get("document")
        .expect("policy needs `document` or `text`");
    serde_json::to_string_pretty(document).expect("serialise document")
}

fn principal_of(v: &Value) -> RequestPrincipal {
    if v.as_str() == Some("anonymous") {
        return RequestPrincipal::Anonymous;
    }
    let get = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    if let Some(s) = get("service") {
        RequestPrincipal::Service(s)
    } else if let Some(arn) = get("aws") {
        RequestPrincipal::Aws {
            arn,
            account: get("account").expect("aws principal needs account"),
        }
    } else if let Some(f) = get("federated") {
        RequestPrincipal::Federated(f)
    } else if let Some(c) = get("canonical") {
        RequestPrincipal::CanonicalUser(c)
    } else {
        panic!("unknown principal {v}")
    }
}

fn context_of(v: Option<&Value>) -> Context {
    let mut ctx = Context::new();
    if let Some(Value::Object(map)) = v {
        for (k, val) in map {
            match val {
                Value::String(s) => ctx.insert(k, s.clone()),
                Value::Array(items) => ctx.insert_multi(
                    k,
                    items
                        .iter()
                        .map(|i| i.as_str().expect("context values are strings").to_owned())
                        .collect(),
                ),
                other => panic!("context value must be a string or array: {other}"),
            }
        }
    }
    ctx
}

struct Outcome {
    name: String,
    failure: Option<String>,
}

struct File {
    path: PathBuf,
    json: Value,
}

fn load() -> Vec<File> {
    let mut files: Vec<PathBuf> = fs::read_dir(kat_dir())
        .expect("tests/kat exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = fs::read_to_string(&path).expect("read KAT file");
            let json =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            File { path, json }
        })
        .collect()
}

/// Resolve a group list into (id, policy) pairs.
fn group(
    file: &File,
    case: &Value,
    key: &str,
    default_kind: &str,
) -> Result<Option<Vec<(String, Policy)>>, String> {
    let Some(items) = case.get(key) else {
        return Ok(None);
    };
    let items = items
        .as_array()
        .ok_or_else(|| format!("`{key}` must be an array"))?;
    let named = file.json.get("policies");
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let (id, spec) = match item {
            Value::String(name) => (
                name.clone(),
                named
                    .and_then(|p| p.get(name))
                    .ok_or_else(|| format!("unknown policy {name:?}"))?
                    .clone(),
            ),
            obj => (
                obj.get("id")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("{key}{i}"), str::to_owned),
                obj.clone(),
            ),
        };
        let kind = kind_of(
            spec.get("kind")
                .and_then(Value::as_str)
                .unwrap_or(default_kind),
        );
        let policy = Policy::parse(&text_of(&spec), kind)
            .map_err(|e| format!("policy {id:?} does not parse: {e}"))?;
        out.push((id, policy));
    }
    Ok(Some(out))
}

fn run_eval(file: &File, case: &Value) -> Result<(), String> {
    let identity = group(file, case, "identity", "identity")?.unwrap_or_default();
    let resource = group(file, case, "resource", "resource")?.unwrap_or_default();
    let session = group(file, case, "session", "session")?;
    let boundary = group(file, case, "boundary", "identity")?;
    let identity_refs: Vec<PolicyRef<'_>> = identity
        .iter()
        .map(|(id, policy)| PolicyRef { id, policy })
        .collect();
    let resource_refs: Vec<PolicyRef<'_>> = resource
        .iter()
        .map(|(id, policy)| PolicyRef { id, policy })
        .collect();
    let session_refs: Option<Vec<PolicyRef<'_>>> = session.as_ref().map(|l| {
        l.iter()
            .map(|(id, policy)| PolicyRef { id, policy })
            .collect()
    });
    let boundary_refs: Option<Vec<PolicyRef<'_>>> = boundary.as_ref().map(|l| {
        l.iter()
            .map(|(id, policy)| PolicyRef { id, policy })
            .collect()
    });

    let request = case.get("request").ok_or("missing `request`")?;
    let action = request
        .get("action")
        .and_then(Value::as_str)
        .ok_or("request needs `action`")?;
    let resource_arn = request
        .get("resource")
        .and_then(Value::as_str)
        .ok_or("request needs `resource`")?;
    let principal = request.get("principal").map(principal_of);
    let context = context_of(request.get("context"));
    let input = EvalInput {
        identity: &identity_refs,
        resource: &resource_refs,
        session: session_refs.as_deref(),
        boundary: boundary_refs.as_deref(),
        request: Request {
            action,
            resource: resource_arn,
            principal: principal.as_ref(),
            context: &context,
        },
    };
    let decision = evaluate(&input);
    let expect = case
        .get("expect")
        .and_then(Value::as_str)
        .ok_or("missing `expect`")?;
    if decision.effect.as_str() != expect {
        return Err(format!(
            "expected {expect}, got {} ({decision:?})",
            decision.effect.as_str()
        ));
    }
    let fast = evaluate_effect(&input);
    if fast != decision.effect {
        return Err(format!(
            "evaluate_effect gave {fast}, evaluate gave {}",
            decision.effect
        ));
    }
    if let Some(Value::Array(expected)) = case.get("statements") {
        let mut want: Vec<(String, u64)> = expected
            .iter()
            .map(|pair| {
                let id = pair
                    .get(0)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                (id, pair.get(1).and_then(Value::as_u64).unwrap_or(u64::MAX))
            })
            .collect();
        let mut got: Vec<(String, u64)> = decision
            .matched
            .iter()
            .map(|m| (m.policy_id.clone(), m.index as u64))
            .collect();
        want.sort();
        got.sort();
        if want != got {
            return Err(format!(
                "deciding statements: expected {want:?}, got {got:?}"
            ));
        }
    }
    if let Some(Value::Array(expected)) = case.get("missing") {
        let mut want: Vec<String> = expected
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_ascii_lowercase)
            .collect();
        let mut got: Vec<String> = decision
            .missing_context_keys
            .iter()
            .map(|k| k.to_ascii_lowercase())
            .collect();
        want.sort();
        got.sort();
        if want != got {
            return Err(format!(
                "missing context keys: expected {want:?}, got {got:?}"
            ));
        }
    }
    if decision.effect == Effect::Allow && decision.matched.is_empty() {
        return Err("an allowed decision must name its statement".into());
    }
    Ok(())
}

fn run_parse(case: &Value) -> Result<(), String> {
    let spec = case.get("parse").ok_or("missing `parse`")?;
    let text = text_of(spec);
    let result = match spec.get("target").and_then(Value::as_str) {
        Some(target) => Policy::validate(&text, target_of(target)),
        None => Policy::parse(
            &text,
            kind_of(
                spec.get("kind")
                    .and_then(Value::as_str)
                    .unwrap_or("identity"),
            ),
        ),
    };
    let want_message = case.get("expect_message").and_then(Value::as_str);
    if want_message.is_some()
        && !case
            .get("wording")
            .and_then(Value::as_str)
            .is_some_and(|w| w.starts_with("https://"))
    {
        return Err("a case with `expect_message` must name its source in `wording`".into());
    }
    let want_error = case.get("expect_error").and_then(Value::as_str);
    let must_fail = want_message.is_some() || want_error.is_some();
    match result {
        Ok(_) if must_fail => Err("expected a parse error, the policy was accepted".into()),
        Ok(_) => Ok(()),
        Err(e) if !must_fail => Err(format!("expected the policy to parse, got {e}")),
        Err(e) => {
            let shown = e.to_string();
            if let Some(want) = want_error
                && !shown.contains(want)
            {
                return Err(format!("error {shown:?} does not contain {want:?}"));
            }
            if !shown.starts_with("MalformedPolicyDocument: ") {
                return Err(format!("error {shown:?} is not a MalformedPolicyDocument"));
            }
            if let Some(message) = want_message
                && e.message() != message
            {
                return Err(format!(
                    "AWS message {:?}, expected {message:?}",
                    e.message()
                ));
            }
            if let Some(index) = case.get("statement").and_then(Value::as_u64)
                && e.statement_index() != Some(index as usize)
            {
                return Err(format!(
                    "error names statement {:?}, expected {index}",
                    e.statement_index()
                ));
            }
            if let Some(element) = case.get("element").and_then(Value::as_str)
                && e.element() != Some(element)
            {
                return Err(format!(
                    "error names element {:?}, expected {element}",
                    e.element()
                ));
            }
            Ok(())
        }
    }
}

fn run_size(case: &Value) -> Result<(), String> {
    let spec = case.get("size").ok_or("missing `size`")?;
    let limit = limit_of(
        spec.get("limit")
            .and_then(Value::as_str)
            .ok_or("size needs `limit`")?,
    );
    let mut text = text_of(spec);
    if let Some(pad) = spec.get("pad_sid_to").and_then(Value::as_u64) {
        // Grow the Sid placeholder so that the document counts exactly `pad` characters
        // without whitespace.
        let current = text.chars().filter(|c| !c.is_whitespace()).count() as u64;
        let extra = pad
            .checked_sub(current)
            .ok_or("document already longer than pad_sid_to")?;
        text = text.replacen("PAD", &format!("PAD{}", "x".repeat(extra as usize)), 1);
    }
    let want_ok = case
        .get("expect_ok")
        .and_then(Value::as_bool)
        .ok_or("size needs `expect_ok`")?;
    match (want_ok, check_size(&text, limit)) {
        (true, Ok(())) => Ok(()),
        (false, Err(e)) => {
            let want = case
                .get("expect_error")
                .and_then(Value::as_str)
                .unwrap_or("LimitExceeded");
            if e.to_string().contains(want) {
                Ok(())
            } else {
                Err(format!("error {e} does not contain {want:?}"))
            }
        }
        (true, Err(e)) => Err(format!("expected within quota, got {e}")),
        (false, Ok(())) => Err("expected LimitExceeded".into()),
    }
}

#[test]
fn known_answers_from_aws_documentation() {
    let files = load();
    let mut outcomes = Vec::new();
    let mut pages: BTreeMap<String, usize> = BTreeMap::new();
    for file in &files {
        let page = file
            .json
            .get("page")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let cases = file
            .json
            .get("cases")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for case in &cases {
            let name = format!(
                "{}: {}",
                file.path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                case.get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("<unnamed>")
            );
            let cite = case.get("cite").and_then(Value::as_str).unwrap_or(page);
            let result = if !cite.starts_with("https://docs.aws.amazon.com/") {
                Err(format!(
                    "case must cite an AWS documentation page, has {cite:?}"
                ))
            } else if case.get("parse").is_some() {
                run_parse(case)
            } else if case.get("size").is_some() {
                run_size(case)
            } else {
                run_eval(file, case)
            };
            let base = cite.split('#').next().unwrap_or(cite).to_owned();
            *pages.entry(base).or_default() += 1;
            outcomes.push(Outcome {
                name,
                failure: result.err(),
            });
        }
    }
    let failures: Vec<&Outcome> = outcomes.iter().filter(|o| o.failure.is_some()).collect();
    for f in &failures {
        eprintln!(
            "FAIL {}: {}",
            f.name,
            f.failure.as_deref().unwrap_or_default()
        );
    }
    eprintln!("{} KAT cases from {} pages:", outcomes.len(), pages.len());
    for (page, n) in &pages {
        eprintln!("  {n:4}  {page}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} KAT cases failed",
        failures.len(),
        outcomes.len()
    );
    assert!(outcomes.len() >= 150, "only {} KAT cases", outcomes.len());
}
