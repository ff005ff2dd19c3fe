//! Things: list, create, attributes and thing type, attached certificates, delete; thing types.

use std::collections::BTreeMap;

use http::{Method, Response};
use serde_json::{Value, json};

use super::Cx;
use crate::Body;
use crate::api::{Failure, s};
use crate::html::Html;
use crate::url::{enc, path};

/// `key=value` lines into a map (blank lines skipped).
fn parse_attributes(text: &str) -> Result<BTreeMap<String, String>, Failure> {
    let mut out = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((k, v)) = line.split_once('=') else {
            return Err(Failure::local(
                "InvalidRequestException",
                format!("Attribute line '{line}' is not NAME=VALUE."),
            ));
        };
        out.insert(k.trim().to_owned(), v.trim().to_owned());
    }
    Ok(out)
}

fn attributes_text(v: &Value) -> String {
    v.get("attributes")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

async fn type_options(cx: &Cx<'_>) -> Vec<(String, String)> {
    let mut opts = vec![(String::new(), "(none)".to_owned())];
    if let Ok(types) = cx
        .api()
        .iot_all("/thing-types", &[], "thingTypes", 250)
        .await
    {
        for t in types {
            let n = s(&t, "thingTypeName").to_owned();
            opts.push((n.clone(), n));
        }
    }
    opts
}

/// `GET /things`.
pub async fn list(cx: &Cx<'_>) -> Response<Body> {
    let things = match cx.api().iot_all("/things", &[], "things", 1000).await {
        Ok(t) => t,
        Err(f) => return cx.error_page("Things", "/things", &f),
    };
    let mut h = Html::new();
    h.h1("Things");
    h.table(&["Name", "Thing type", "Attributes"], |h| {
        for t in &things {
            let name = s(t, "thingName");
            h.open("tr", &[])
                .open("td", &[])
                .link(&path("/things", name), name)
                .close("td");
            h.el("td", &[], s(t, "thingTypeName"));
            h.el(
                "td",
                &[("class", "mono")],
                &attributes_text(t).replace('\n', ", "),
            );
            h.close("tr");
        }
    });
    if things.is_empty() {
        h.note("No things yet.");
    }
    h.h2("Create a thing");
    let types = type_options(cx).await;
    cx.form(&mut h, "/things", |h| {
        h.input(
            "Thing name",
            "name",
            "",
            &[
                ("required", ""),
                ("id", "thing-name"),
                ("pattern", "[a-zA-Z0-9:_-]{1,128}"),
            ],
        );
        h.select("Thing type", "type", &types, "");
        h.textarea("Attributes (NAME=VALUE per line)", "attributes", "", "3");
        h.submit("Create thing");
    });
    h.note("Thing types: ")
        .link("/thing-types", "manage thing types");
    cx.page("Things", "/things", h)
}

/// `POST /things`.
pub async fn create(cx: &Cx<'_>) -> Response<Body> {
    let name = cx.ft("name");
    let attrs = match parse_attributes(cx.f("attributes")) {
        Ok(a) => a,
        Err(f) => return cx.failed("/things", &f),
    };
    let mut body = json!({});
    if !cx.ft("type").is_empty() {
        body["thingTypeName"] = json!(cx.ft("type"));
    }
    if !attrs.is_empty() {
        body["attributePayload"] = json!({ "attributes": attrs });
    }
    match cx
        .api()
        .iot(Method::POST, &path("/things", name), &[], Some(&body))
        .await
    {
        Ok(_) => cx.done(&path("/things", name), format!("Thing {name} created.")),
        Err(f) => cx.failed("/things", &f),
    }
}

/// `GET /things/{name}`.
pub async fn show(cx: &Cx<'_>, name: &str) -> Response<Body> {
    let api = cx.api();
    let thing = match api
        .iot(Method::GET, &path("/things", name), &[], None)
        .await
    {
        Ok(t) => t,
        Err(f) => return cx.error_page(name, "/things", &f),
    };
    let principals = api
        .iot_all(
            &format!("{}/principals", path("/things", name)),
            &[],
            "principals",
            250,
        )
        .await;
    let base = path("/things", name);
    let mut h = Html::new();
    h.h1(name);
    let version = thing
        .get("version")
        .and_then(Value::as_i64)
        .unwrap_or(0)
        .to_string();
    h.facts(&[
        ("ARN", s(&thing, "thingArn")),
        ("Thing type", s(&thing, "thingTypeName")),
        ("Version", &version),
    ]);
    h.h2("Attributes");
    h.table(&["Name", "Value"], |h| {
        if let Some(m) = thing.get("attributes").and_then(Value::as_object) {
            for (k, v) in m {
                h.open("tr", &[]).el("td", &[("class", "mono")], k);
                h.el("td", &[("class", "mono")], v.as_str().unwrap_or(""))
                    .close("tr");
            }
        }
    });
    let types = type_options(cx).await;
    cx.form(&mut h, &format!("{base}/update"), |h| {
        h.hidden("version", &version);
        h.select("Thing type", "type", &types, s(&thing, "thingTypeName"));
        h.textarea(
            "Attributes (NAME=VALUE per line; replaces them all)",
            "attributes",
            &attributes_text(&thing),
            "4",
        );
        h.submit("Save");
    });
    h.h2("Certificates");
    match &principals {
        Ok(list) => {
            h.table(&["Certificate", ""], |h| {
                for p in list {
                    let arn = p.as_str().unwrap_or("");
                    let id = arn.rsplit('/').next().unwrap_or(arn);
                    h.open("tr", &[]).open("td", &[("class", "mono")]);
                    h.link(&path("/certificates", id), id)
                        .close("td")
                        .open("td", &[]);
                    cx.form(h, &format!("{base}/detach"), |h| {
                        h.hidden("principal", arn);
                        h.el(
                            "button",
                            &[("type", "submit"), ("class", "danger")],
                            "Detach",
                        );
                    });
                    h.close("td").close("tr");
                }
            });
            if list.is_empty() {
                h.note("No certificate is attached.");
            }
        }
        Err(f) => {
            h.message("error", &f.display());
        }
    }
    let certs = api
        .iot_all(
            "/certificates",
            &[("pageSize", "250")],
            "certificates",
            1000,
        )
        .await
        .unwrap_or_default();
    let opts: Vec<(String, String)> = certs
        .iter()
        .map(|c| {
            (
                s(c, "certificateArn").to_owned(),
                format!("{} ({})", s(c, "certificateId"), s(c, "status")),
            )
        })
        .collect();
    if !opts.is_empty() {
        cx.form(&mut h, &format!("{base}/attach"), |h| {
            h.select("Attach certificate", "principal", &opts, "");
            h.submit("Attach");
        });
    }
    h.h2("Delete");
    cx.button(
        &mut h,
        &format!("{base}/delete"),
        "Delete thing",
        Some("Delete this thing?"),
    );
    cx.page(name, "/things", h)
}

/// `POST /things/{name}/{action}`.
pub async fn act(cx: &Cx<'_>, name: &str, action: &str) -> Response<Body> {
    let api = cx.api();
    let base = path("/things", name);
    let result = match action {
        "update" => {
            let attrs = match parse_attributes(cx.f("attributes")) {
                Ok(a) => a,
                Err(f) => return cx.failed(&base, &f),
            };
            let mut body = json!({ "attributePayload": { "attributes": attrs, "merge": false } });
            match cx.ft("type") {
                "" => body["removeThingType"] = json!(true),
                t => body["thingTypeName"] = json!(t),
            }
            if let Ok(v) = cx.ft("version").parse::<i64>() {
                body["expectedVersion"] = json!(v);
            }
            api.iot(Method::PATCH, &base, &[], Some(&body))
                .await
                .map(|_| format!("Thing {name} saved."))
        }
        "attach" | "detach" => {
            let principal = cx.ft("principal");
            let method = if action == "attach" {
                Method::PUT
            } else {
                Method::DELETE
            };
            api.iot_full(
                method,
                &format!("{base}/principals"),
                &[],
                &[("x-amzn-principal", principal)],
                None,
            )
            .await
            .map(|_| format!("Certificate {action}ed."))
        }
        "delete" => {
            return match api.iot(Method::DELETE, &base, &[], None).await {
                Ok(_) => cx.done("/things", format!("Thing {name} deleted.")),
                Err(f) => cx.failed(&base, &f),
            };
        }
        _ => Err(Failure::local("NotFound", "No such action.")),
    };
    match result {
        Ok(msg) => cx.done(&base, msg),
        Err(f) => cx.failed(&base, &f),
    }
}

/// `GET /thing-types`.
pub async fn types(cx: &Cx<'_>) -> Response<Body> {
    let types = match cx
        .api()
        .iot_all("/thing-types", &[], "thingTypes", 1000)
        .await
    {
        Ok(t) => t,
        Err(f) => return cx.error_page("Thing types", "/things", &f),
    };
    let mut h = Html::new();
    h.h1("Thing types");
    h.table(&["Name", "ARN", "Deprecated"], |h| {
        for t in &types {
            let deprecated = t
                .pointer("/thingTypeMetadata/deprecated")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            h.open("tr", &[]).el("td", &[], s(t, "thingTypeName"));
            h.el("td", &[("class", "mono")], s(t, "thingTypeArn"));
            h.el("td", &[], if deprecated { "yes" } else { "no" })
                .close("tr");
        }
    });
    h.h2("Create a thing type");
    cx.form(&mut h, "/thing-types", |h| {
        h.input("Thing type name", "name", "", &[("required", "")]);
        h.submit("Create thing type");
    });
    cx.page("Thing types", "/things", h)
}

/// `POST /thing-types`.
pub async fn create_type(cx: &Cx<'_>) -> Response<Body> {
    let name = cx.ft("name");
    match cx
        .api()
        .iot(
            Method::POST,
            &format!("/thing-types/{}", enc(name)),
            &[],
            Some(&json!({})),
        )
        .await
    {
        Ok(_) => cx.done("/thing-types", format!("Thing type {name} created.")),
        Err(f) => cx.failed("/thing-types", &f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_lines() {
        let m = parse_attributes("a=1\n\n b = two \nc=").unwrap();
        assert_eq!(m.get("a").map(String::as_str), Some("1"));
        assert_eq!(m.get("b").map(String::as_str), Some("two"));
        assert_eq!(m.get("c").map(String::as_str), Some(""));
        assert!(parse_attributes("novalue").is_err());
    }
}
