//! The console's first page: who is signed in, the account, the endpoints, where to start.

use http::{Method, Response};

use super::Cx;
use crate::Body;
use crate::api::s;
use crate::html::Html;

/// `GET /`.
pub async fn show(cx: &Cx<'_>) -> Response<Body> {
    let endpoint = cx
        .api()
        .iot(
            Method::GET,
            "/endpoint",
            &[("endpointType", "iot:CredentialProvider")],
            None,
        )
        .await;
    let mut h = Html::new();
    h.h1("iotcreds console");
    h.facts(&[
        ("Signed in as", &cx.caller.principal.arn()),
        ("Account", cx.account()),
        ("Region", cx.region()),
    ]);
    h.open("dl", &[("class", "facts")])
        .el("dt", &[], "Credentials endpoint");
    match &endpoint {
        Ok(v) => h.open("dd", &[]).code(s(v, "endpointAddress")).close("dd"),
        Err(f) => h.el("dd", &[("class", "muted")], &f.display()),
    };
    h.el("dt", &[], "Root CA")
        .open("dd", &[])
        .link("/root-ca.pem", "root-ca.pem")
        .close("dd");
    h.close("dl");
    h.h2("Start here");
    h.open("ul", &[("class", "steps")]);
    for (href, text, note) in [
        (
            "/connect",
            "Connect a device",
            "thing → certificate → policy → role alias → the device's command, checked live",
        ),
        (
            "/roles",
            "IAM roles",
            "what devices may do once they hold credentials",
        ),
        ("/buckets", "Buckets", "objects devices read and write"),
        (
            "/activity",
            "Activity",
            "credentials issued and refused, with the reason",
        ),
        (
            "/simulator",
            "Policy simulator",
            "why is a request allowed or denied",
        ),
    ] {
        h.open("li", &[])
            .link(href, text)
            .text(" — ")
            .text(note)
            .close("li");
    }
    h.close("ul");
    cx.page("Home", "", h)
}
