//! How results are printed: `--output json` prints the API's JSON (pretty-printed), `--output
//! text` (the default) a readable form: `key: value` lines for one resource, aligned columns
//! for lists. Epoch-second timestamps (`creationDate`, …) are shown as ISO 8601 in text.

use clap::ValueEnum;
use serde_json::Value;

/// `--output`.
#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Output {
    /// Readable text.
    #[default]
    Text,
    /// The API's JSON.
    Json,
}

/// Print `v` as JSON, or as text made by `text`.
pub fn emit_with(out: Output, v: &Value, text: impl FnOnce(&Value) -> String) {
    let s = match out {
        Output::Json => serde_json::to_string_pretty(v).unwrap_or_default(),
        Output::Text => text(v),
    };
    let s = s.trim_end();
    if !s.is_empty() {
        print_line(s);
    }
}

/// Write a line to standard output. A closed pipe (`iotcreds … | head -1`) is not an error
/// worth a panic: the rest of the output is dropped and the command ends normally.
pub fn print_line(s: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{s}").and_then(|()| out.flush());
}

/// Print `v` as JSON or as generic text ([`render`]).
pub fn emit(out: Output, v: &Value) {
    emit_with(out, v, render);
}

/// In text mode print `message`; in JSON mode print `v`.
pub fn emit_message(out: Output, v: &Value, message: &str) {
    emit_with(out, v, |_| message.to_owned());
}

fn is_timestamp_key(key: &str) -> bool {
    key.ends_with("Date") || matches!(key, "notBefore" | "notAfter" | "revokedBefore")
}

/// A scalar as text (`-` for null); epoch seconds under a timestamp key as ISO 8601.
pub fn scalar(key: &str, v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) if is_timestamp_key(key) => n
            .as_f64()
            .and_then(|secs| {
                // Whole milliseconds; the cast saturates far beyond any real date.
                let ms = (secs * 1000.0).round() as i64;
                time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
            })
            .map(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_else(|_| n.to_string())
            })
            .unwrap_or_else(|| n.to_string()),
        other => other.to_string(),
    }
}

fn write_value(out: &mut String, key: &str, v: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                write_entry(out, k, x, indent);
            }
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(_) | Value::Array(_) => {
                        out.push_str(&format!("{pad}-\n"));
                        write_value(out, key, item, indent + 2);
                    }
                    _ => out.push_str(&format!("{pad}- {}\n", scalar(key, item))),
                }
            }
        }
        _ => out.push_str(&format!("{pad}{}\n", scalar(key, v))),
    }
}

fn write_entry(out: &mut String, k: &str, x: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match x {
        Value::Object(m) if m.is_empty() => out.push_str(&format!("{pad}{k}: {{}}\n")),
        Value::Array(a) if a.is_empty() => out.push_str(&format!("{pad}{k}: []\n")),
        Value::Object(_) | Value::Array(_) => {
            out.push_str(&format!("{pad}{k}:\n"));
            write_value(out, k, x, indent + 2);
        }
        Value::String(s) if s.contains('\n') => {
            out.push_str(&format!("{pad}{k}: |\n"));
            for line in s.lines() {
                out.push_str(&format!("{pad}  {line}\n"));
            }
        }
        _ => out.push_str(&format!("{pad}{k}: {}\n", scalar(k, x))),
    }
}

/// Generic text: `key: value` lines (keys sorted), nested values indented, lists as
/// `- item`.
pub fn render(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, "", v, 0);
    out
}

/// Only `keys` of the object `v`, as `key: value` lines (missing keys are skipped).
pub fn fields(v: &Value, keys: &[&str]) -> String {
    let mut out = String::new();
    for k in keys {
        if let Some(x) = v.get(k) {
            write_entry(&mut out, k, x, 0);
        }
    }
    out
}

/// Rows as left-aligned columns separated by two spaces (the last column is not padded).
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 < row.len() {
                line.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            } else {
                line.push_str(cell);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A table of the objects in `v[list]`, one row per item with the `columns` values; a list
/// of strings gives one per line.
pub fn list_table(v: &Value, list: &str, columns: &[&str]) -> String {
    let items = v.get(list).and_then(Value::as_array).map_or(&[][..], |a| a);
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|item| match item {
            Value::Object(_) => columns
                .iter()
                .map(|c| item.get(c).map_or_else(|| "-".into(), |x| scalar(c, x)))
                .collect(),
            other => vec![scalar(list, other)],
        })
        .collect();
    table(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_rendering() {
        let v = json!({
            "roleAliasDescription": {
                "roleAlias": "A",
                "credentialDurationSeconds": 3600,
                "creationDate": 1570558643.221,
                "tags": [],
            },
            "list": ["x", "y"],
            "doc": "{\n  \"a\": 1\n}",
        });
        assert_eq!(
            render(&v),
            "doc: |\n  {\n    \"a\": 1\n  }\nlist:\n  - x\n  - y\n\
             roleAliasDescription:\n  creationDate: 2019-10-08T18:17:23.221Z\n  \
             credentialDurationSeconds: 3600\n  roleAlias: A\n  tags: []\n"
        );
        assert_eq!(fields(&v, &["list", "nope"]), "list:\n  - x\n  - y\n");
    }

    #[test]
    fn tables() {
        let v = json!({"things": [
            {"thingName": "a", "thingArn": "arn:1"},
            {"thingName": "longer", "thingTypeName": "T", "thingArn": "arn:2"},
        ]});
        assert_eq!(
            list_table(&v, "things", &["thingName", "thingTypeName", "thingArn"]),
            "a       -  arn:1\nlonger  T  arn:2\n"
        );
        assert_eq!(
            list_table(&json!({"roleAliases": ["a", "b"]}), "roleAliases", &[]),
            "a\nb\n"
        );
        assert_eq!(list_table(&json!({}), "x", &[]), "");
    }
}
