//! HTML output with escaping by construction: markup comes only from `&'static str` literals
//! in this crate ([`Html::raw`], tag and attribute names), and every other string — names,
//! attributes, policy documents, object keys, messages from the API — goes through
//! [`escape`] on its way into the page, as text or as a quoted attribute value. There is no
//! way to write a runtime string unescaped.

use std::fmt::Write as _;

/// Escape `s` for HTML text and for a double- or single-quoted attribute value. Control
/// characters other than tab, line feed and carriage return become U+FFFD.
pub fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
}

/// A page being written.
#[derive(Debug, Default)]
pub struct Html {
    buf: String,
}

impl Html {
    /// An empty fragment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Markup written by this crate.
    pub fn raw(&mut self, s: &'static str) -> &mut Self {
        self.buf.push_str(s);
        self
    }

    /// Text, escaped.
    pub fn text(&mut self, s: &str) -> &mut Self {
        escape(s, &mut self.buf);
        self
    }

    /// A number.
    pub fn num(&mut self, n: i64) -> &mut Self {
        let _ = write!(self.buf, "{n}");
        self
    }

    /// Another fragment.
    pub fn push(&mut self, other: Html) -> &mut Self {
        self.buf.push_str(&other.buf);
        self
    }

    /// `<tag a="v" …>`; values escaped. An attribute whose value is `""` and whose name is a
    /// boolean attribute (`checked`, `selected`, `required`, `disabled`, `open`) is written
    /// bare.
    pub fn open(&mut self, tag: &'static str, attrs: &[(&'static str, &str)]) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(tag);
        for (k, v) in attrs {
            self.buf.push(' ');
            self.buf.push_str(k);
            if v.is_empty()
                && matches!(
                    *k,
                    "checked" | "selected" | "required" | "disabled" | "open" | "multiple"
                )
            {
                continue;
            }
            self.buf.push_str("=\"");
            escape(v, &mut self.buf);
            self.buf.push('"');
        }
        self.buf.push('>');
        self
    }

    /// `</tag>`.
    pub fn close(&mut self, tag: &'static str) -> &mut Self {
        self.buf.push_str("</");
        self.buf.push_str(tag);
        self.buf.push('>');
        self
    }

    /// `<tag attrs>text</tag>`.
    pub fn el(
        &mut self,
        tag: &'static str,
        attrs: &[(&'static str, &str)],
        text: &str,
    ) -> &mut Self {
        self.open(tag, attrs).text(text).close(tag)
    }

    /// `<tag attrs>` + what `f` writes + `</tag>`.
    pub fn wrap(
        &mut self,
        tag: &'static str,
        attrs: &[(&'static str, &str)],
        f: impl FnOnce(&mut Html),
    ) -> &mut Self {
        self.open(tag, attrs);
        f(self);
        self.close(tag)
    }

    /// A link to a console path (built with [`crate::url`]).
    pub fn link(&mut self, href: &str, text: &str) -> &mut Self {
        self.el("a", &[("href", href)], text)
    }

    /// `<h1>`.
    pub fn h1(&mut self, text: &str) -> &mut Self {
        self.el("h1", &[], text)
    }

    /// `<h2>`.
    pub fn h2(&mut self, text: &str) -> &mut Self {
        self.el("h2", &[], text)
    }

    /// `<p>`.
    pub fn p(&mut self, text: &str) -> &mut Self {
        self.el("p", &[], text)
    }

    /// A paragraph in the muted style.
    pub fn note(&mut self, text: &str) -> &mut Self {
        self.el("p", &[("class", "note")], text)
    }

    /// A code block with a copy button.
    pub fn code_block(&mut self, id: &str, text: &str) -> &mut Self {
        self.open("div", &[("class", "code")]);
        self.open("pre", &[])
            .el("code", &[("id", id)], text)
            .close("pre");
        self.el(
            "button",
            &[("type", "button"), ("class", "copy"), ("data-copy", id)],
            "Copy",
        );
        self.close("div")
    }

    /// Inline code.
    pub fn code(&mut self, text: &str) -> &mut Self {
        self.el("code", &[], text)
    }

    /// A table with `headers`; `rows` writes the `<tr>`s.
    pub fn table(&mut self, headers: &[&'static str], rows: impl FnOnce(&mut Html)) -> &mut Self {
        self.open("div", &[("class", "table-wrap")])
            .open("table", &[])
            .open("thead", &[])
            .open("tr", &[]);
        for h in headers {
            self.el("th", &[], h);
        }
        self.close("tr").close("thead").open("tbody", &[]);
        rows(self);
        self.close("tbody").close("table").close("div")
    }

    /// A definition list of `(term, value)` pairs.
    pub fn facts(&mut self, pairs: &[(&'static str, &str)]) -> &mut Self {
        self.open("dl", &[("class", "facts")]);
        for (k, v) in pairs {
            self.el("dt", &[], k).el("dd", &[], v);
        }
        self.close("dl")
    }

    /// A `POST` form to `action` carrying the session's CSRF token; `f` writes the fields.
    pub fn form(&mut self, action: &str, csrf: &str, f: impl FnOnce(&mut Html)) -> &mut Self {
        self.open("form", &[("method", "post"), ("action", action)]);
        self.hidden("csrf", csrf);
        f(self);
        self.close("form")
    }

    /// A one-button form (an action on a row), with an optional confirmation question.
    pub fn button_form(
        &mut self,
        action: &str,
        csrf: &str,
        label: &str,
        class: &'static str,
        confirm: Option<&str>,
    ) -> &mut Self {
        self.open(
            "form",
            &[("method", "post"), ("action", action), ("class", "inline")],
        );
        self.hidden("csrf", csrf);
        match confirm {
            Some(q) => self.el(
                "button",
                &[("type", "submit"), ("class", class), ("data-confirm", q)],
                label,
            ),
            None => self.el("button", &[("type", "submit"), ("class", class)], label),
        };
        self.close("form")
    }

    /// `<input type=hidden>`.
    pub fn hidden(&mut self, name: &str, value: &str) -> &mut Self {
        self.open(
            "input",
            &[("type", "hidden"), ("name", name), ("value", value)],
        )
    }

    /// A labelled text input.
    pub fn input(
        &mut self,
        label: &str,
        name: &str,
        value: &str,
        extra: &[(&'static str, &str)],
    ) -> &mut Self {
        self.open("label", &[]).text(label);
        let mut attrs: Vec<(&'static str, &str)> =
            vec![("type", "text"), ("name", name), ("value", value)];
        for (k, v) in extra {
            if let Some(slot) = attrs.iter_mut().find(|(n, _)| n == k) {
                slot.1 = v;
            } else {
                attrs.push((k, v));
            }
        }
        self.open("input", &attrs);
        self.close("label")
    }

    /// A labelled textarea.
    pub fn textarea(&mut self, label: &str, name: &str, value: &str, rows: &str) -> &mut Self {
        self.open("label", &[]).text(label);
        self.open(
            "textarea",
            &[("name", name), ("rows", rows), ("spellcheck", "false")],
        )
        .text(value)
        .close("textarea");
        self.close("label")
    }

    /// A labelled select of `(value, text)` options.
    pub fn select(
        &mut self,
        label: &str,
        name: &str,
        options: &[(String, String)],
        selected: &str,
    ) -> &mut Self {
        self.open("label", &[])
            .text(label)
            .open("select", &[("name", name)]);
        for (value, text) in options {
            if value == selected {
                self.open("option", &[("value", value), ("selected", "")]);
            } else {
                self.open("option", &[("value", value)]);
            }
            self.text(text).close("option");
        }
        self.close("select").close("label")
    }

    /// A labelled checkbox sending `value` when checked.
    pub fn checkbox(&mut self, label: &str, name: &str, checked: bool) -> &mut Self {
        self.open("label", &[("class", "check")]);
        if checked {
            self.open(
                "input",
                &[
                    ("type", "checkbox"),
                    ("name", name),
                    ("value", "true"),
                    ("checked", ""),
                ],
            );
        } else {
            self.open(
                "input",
                &[("type", "checkbox"), ("name", name), ("value", "true")],
            );
        }
        self.text(label).close("label")
    }

    /// A submit button.
    pub fn submit(&mut self, label: &str) -> &mut Self {
        self.el("button", &[("type", "submit"), ("class", "primary")], label)
    }

    /// A message box (`kind`: `ok`, `error`, `info`).
    pub fn message(&mut self, kind: &'static str, text: &str) -> &mut Self {
        let class = match kind {
            "ok" => "msg ok",
            "error" => "msg error",
            _ => "msg info",
        };
        let role = if kind == "error" { "alert" } else { "status" };
        self.el("div", &[("class", class), ("role", role)], text)
    }

    /// The page so far.
    pub fn finish(self) -> String {
        self.buf
    }

    /// The text written so far.
    pub fn as_str(&self) -> &str {
        &self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_dynamic_is_escaped() {
        let mut h = Html::new();
        let evil = "<script>alert('x')</script>\"&";
        h.el("p", &[("title", evil)], evil)
            .input("Name", "n", evil, &[])
            .textarea("Doc", "d", "</textarea><script>", "3")
            .select("S", "s", &[(evil.to_owned(), evil.to_owned())], evil);
        let out = h.finish();
        assert!(!out.contains("<script>"), "{out}");
        assert!(!out.contains("</textarea><script>"), "{out}");
        assert!(out.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;"));
        let mut h = Html::new();
        h.text("a\u{1}b\u{7f}c\td");
        assert_eq!(h.finish(), "a\u{fffd}b\u{fffd}c\td");
    }

    #[test]
    fn boolean_attributes_and_forms() {
        let mut h = Html::new();
        h.checkbox("Active", "active", true);
        assert!(h.as_str().contains(" checked>"));
        let mut h = Html::new();
        h.form("/things", "tok\"en", |h| {
            h.submit("Create");
        });
        let out = h.finish();
        assert!(out.starts_with("<form method=\"post\" action=\"/things\">"));
        assert!(out.contains("name=\"csrf\" value=\"tok&quot;en\""));
    }
}
