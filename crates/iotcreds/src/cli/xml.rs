//! IAM and STS answers (AWS query protocol XML) as JSON, shaped like botocore's parsed output,
//! which is what `--output json` prints.
//!
//! The conversion is generic: an element whose children are all `<member>` is a list, an
//! element with children is an object, a leaf is a string. What the XML cannot say on its own
//! comes from small tables taken from the IAM and STS models: which empty elements are lists,
//! which leaves are integers or booleans, and which carry a URL-encoded policy document (IAM
//! returns documents RFC 3986-encoded; they are decoded and parsed, as aws-cli does).

use quick_xml::events::Event;
use serde_json::{Map, Value};

/// List members of the IAM/STS result shapes the CLI reads (so `<Roles/>` is `[]`).
const LISTS: &[&str] = &[
    "AccessKeyMetadata",
    "AttachedPolicies",
    "Groups",
    "InstanceProfiles",
    "PolicyNames",
    "Policies",
    "PolicyRoles",
    "PolicyUsers",
    "PolicyGroups",
    "Roles",
    "Tags",
    "Users",
    "Versions",
];
/// Structures that may come back empty (`<RoleLastUsed/>` is `{}`).
const STRUCTURES: &[&str] = &["PermissionsBoundary", "RoleLastUsed"];
/// Integer leaves.
const INTEGERS: &[&str] = &[
    "AttachmentCount",
    "MaxSessionDuration",
    "PermissionsBoundaryUsageCount",
    "MaxSigninSessionDuration",
];
/// Boolean leaves.
const BOOLEANS: &[&str] = &[
    "IsAttachable",
    "IsDefaultVersion",
    "IsTruncated",
    "PasswordResetRequired",
];
/// URL-encoded policy documents.
const DOCUMENTS: &[&str] = &["AssumeRolePolicyDocument", "Document", "PolicyDocument"];

#[derive(Debug, Default)]
struct Element {
    name: String,
    text: String,
    children: Vec<Element>,
}

impl Element {
    fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    fn find(&self, name: &str) -> Option<&Element> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(name))
    }
}

fn local(name: &[u8]) -> String {
    let s = String::from_utf8_lossy(name);
    match s.rsplit_once(':') {
        Some((_, l)) => l.to_owned(),
        None => s.into_owned(),
    }
}

/// Parse a document into its root element.
fn parse_tree(text: &str) -> Result<Element, String> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<Element> = vec![Element::default()];
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("malformed XML: {e}"))?;
        match event {
            Event::Start(e) => stack.push(Element {
                name: local(e.local_name().as_ref()),
                ..Element::default()
            }),
            Event::Empty(e) => {
                let el = Element {
                    name: local(e.local_name().as_ref()),
                    ..Element::default()
                };
                if let Some(top) = stack.last_mut() {
                    top.children.push(el);
                }
            }
            Event::End(_) => {
                let done = stack.pop().ok_or("unbalanced XML")?;
                stack
                    .last_mut()
                    .ok_or("unbalanced XML")?
                    .children
                    .push(done);
            }
            Event::Text(t) => {
                let s = t.decode().map_err(|e| format!("malformed XML text: {e}"))?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&s);
                }
            }
            Event::CData(t) => {
                let s = t.decode().map_err(|e| format!("malformed XML text: {e}"))?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&s);
                }
            }
            Event::GeneralRef(r) => {
                let resolved = if r.is_char_ref() {
                    r.resolve_char_ref()
                        .ok()
                        .flatten()
                        .map(String::from)
                        .ok_or("bad character reference in XML")?
                } else {
                    let name = r.decode().map_err(|e| format!("malformed XML: {e}"))?;
                    quick_xml::escape::resolve_predefined_entity(&name)
                        .ok_or_else(|| format!("unknown XML entity &{name};"))?
                        .to_owned()
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&resolved);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let mut doc = stack.pop().ok_or("unbalanced XML")?;
    if !stack.is_empty() || doc.children.len() != 1 {
        return Err("not one XML document".into());
    }
    Ok(doc.children.remove(0))
}

fn leaf(name: &str, text: &str) -> Value {
    let text = text.trim();
    if INTEGERS.contains(&name)
        && let Ok(n) = text.parse::<i64>()
    {
        return Value::from(n);
    }
    if BOOLEANS.contains(&name) {
        match text {
            "true" => return Value::Bool(true),
            "false" => return Value::Bool(false),
            _ => {}
        }
    }
    if DOCUMENTS.contains(&name) {
        let decoded = percent_encoding::percent_decode_str(text).decode_utf8_lossy();
        if let Ok(v) = serde_json::from_str::<Value>(&decoded) {
            return v;
        }
        return Value::String(decoded.into_owned());
    }
    Value::String(text.to_owned())
}

fn to_json(el: &Element) -> Value {
    if el.children.is_empty() {
        if LISTS.contains(&el.name.as_str()) {
            return Value::Array(Vec::new());
        }
        if STRUCTURES.contains(&el.name.as_str()) {
            return Value::Object(Map::new());
        }
        return leaf(&el.name, &el.text);
    }
    if el.children.iter().all(|c| c.name == "member") {
        return Value::Array(
            el.children
                .iter()
                .map(|m| {
                    if m.children.is_empty() {
                        leaf(&el.name, &m.text)
                    } else {
                        to_json(m)
                    }
                })
                .collect(),
        );
    }
    let mut map = Map::new();
    for c in &el.children {
        map.insert(c.name.clone(), to_json(c));
    }
    Value::Object(map)
}

/// The `<{action}Result>` of a query-protocol answer as JSON; `{}` when the answer has none
/// (`DeleteRole`, `PutRolePolicy`, …).
pub fn parse_result(text: &str, action: &str) -> Result<Value, String> {
    let root = parse_tree(text)?;
    let expected = format!("{action}Response");
    if root.name != expected {
        return Err(format!("expected <{expected}>, got <{}>", root.name));
    }
    match root.child(&format!("{action}Result")) {
        Some(result) if !result.children.is_empty() => Ok(to_json(result)),
        _ => Ok(Value::Object(Map::new())),
    }
}

/// `(Code, Message)` of an `<ErrorResponse><Error>…` or S3-style `<Error>…` document.
pub fn parse_error(text: &str) -> Option<(Option<String>, Option<String>)> {
    let root = parse_tree(text).ok()?;
    let error = root.find("Error")?;
    let field = |n: &str| error.child(n).map(|c| c.text.trim().to_owned());
    Some((field("Code"), field("Message")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn get_role_as_botocore_parses_it() {
        let xml = r#"<GetRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <GetRoleResult>
    <Role>
      <Path>/</Path>
      <AssumeRolePolicyDocument>%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D</AssumeRolePolicyDocument>
      <MaxSessionDuration>3600</MaxSessionDuration>
      <RoleName>ADCTestRole</RoleName>
      <Description>a &amp; b &#x41;</Description>
      <Tags/>
      <RoleLastUsed/>
    </Role>
  </GetRoleResult>
  <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>
</GetRoleResponse>"#;
        let v = parse_result(xml, "GetRole").unwrap();
        assert_eq!(
            v,
            json!({"Role": {
                "Path": "/",
                "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []},
                "MaxSessionDuration": 3600,
                "RoleName": "ADCTestRole",
                "Description": "a & b A",
                "Tags": [],
                "RoleLastUsed": {}
            }})
        );
    }

    #[test]
    fn lists_and_empty_results() {
        let xml = "<ListRolePoliciesResponse><ListRolePoliciesResult><PolicyNames>\
                   <member>a</member><member>b</member></PolicyNames><IsTruncated>false</IsTruncated>\
                   </ListRolePoliciesResult></ListRolePoliciesResponse>";
        assert_eq!(
            parse_result(xml, "ListRolePolicies").unwrap(),
            json!({"PolicyNames": ["a", "b"], "IsTruncated": false})
        );
        let xml = "<ListRolesResponse><ListRolesResult><Roles/><IsTruncated>false</IsTruncated>\
                   </ListRolesResult></ListRolesResponse>";
        assert_eq!(
            parse_result(xml, "ListRoles").unwrap(),
            json!({"Roles": [], "IsTruncated": false})
        );
        let xml = "<DeleteRoleResponse><ResponseMetadata><RequestId>x</RequestId>\
                   </ResponseMetadata></DeleteRoleResponse>";
        assert_eq!(parse_result(xml, "DeleteRole").unwrap(), json!({}));
        assert!(parse_result(xml, "GetRole").is_err());
        assert!(parse_result("not xml <", "GetRole").is_err());
        assert!(parse_result("<a></b>", "GetRole").is_err());
    }

    #[test]
    fn errors() {
        let xml = "<ErrorResponse><Error><Type>Sender</Type><Code>EntityAlreadyExists</Code>\
                   <Message>Role with name x already exists.</Message></Error>\
                   <RequestId>r</RequestId></ErrorResponse>";
        assert_eq!(
            parse_error(xml),
            Some((
                Some("EntityAlreadyExists".into()),
                Some("Role with name x already exists.".into())
            ))
        );
        assert_eq!(parse_error("{}"), None);
    }
}
