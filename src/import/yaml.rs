//! Writing YAML by hand: block style only, every scalar quoted unless it is provably read back
//! as the same string.
//!
//! A generic serializer would do, but an imported config is a file people review in git: block
//! sequences give one line per member (small diffs), and the quoting rule below keeps plain the
//! values a person would write plain (`ada@example.com`, `urn:scim:tonkean`, `${TOKEN}`) while
//! quoting everything YAML could read as something else (`yes`, `0042`, `+1 555`, `a: b`,
//! `*alias`, `#comment`) or that a reader could not see (control characters, line separators).

use std::borrow::Cow;
use std::fmt::Write as _;

use serde_json::Value;

/// `s` as a YAML scalar in block context: plain when that reads back as the same string,
/// otherwise double-quoted.
#[must_use]
pub fn scalar(s: &str) -> Cow<'_, str> {
    if is_plain_safe(s, false) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(double_quoted(s))
    }
}

/// `s` as a scalar inside a flow collection (`[...]`, `{...}`), where `,[]{}:` end a plain
/// scalar.
fn flow_scalar(s: &str) -> Cow<'_, str> {
    if is_plain_safe(s, true) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(double_quoted(s))
    }
}

/// Words YAML 1.1 or 1.2 resolves to booleans or null.
const RESERVED: &[&str] = &[
    "y", "yes", "n", "no", "true", "false", "on", "off", "null", "~",
];

fn is_plain_safe(s: &str, flow: bool) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    // A leading digit may be read as a number, a date or a sexagesimal: always quote it.
    if !(first.is_alphabetic() || first == '_' || first == '/' || first == '$') {
        return false;
    }
    if s.ends_with(' ') || RESERVED.iter().any(|w| s.eq_ignore_ascii_case(w)) {
        return false;
    }
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let ok = match c {
            c if c.is_alphanumeric() => true,
            '_' | '-' | '.' | '@' | '+' | '/' | '(' | ')' | '\'' | '$' | '=' | '!' | '%' | '&'
            | '*' | '?' | '~' | '^' => true,
            ' ' => chars.peek().is_some_and(|n| *n != ' ' && *n != '#'),
            ':' => !flow && chars.peek().is_some_and(|n| !n.is_whitespace()),
            '{' | '}' => !flow,
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// A double-quoted scalar: `\` and `"` escaped, and every character a reader could not see or
/// that YAML treats as a line break written as an escape.
#[must_use]
pub fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON value as a YAML flow value on one line (extension attributes hold arbitrary JSON).
#[must_use]
pub fn flow_value(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => scalar(s).into_owned(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(flow_item).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let entries: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", flow_scalar(k), flow_item(v)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
    }
}

fn flow_item(value: &Value) -> String {
    match value {
        Value::String(s) => flow_scalar(s).into_owned(),
        other => flow_value(other),
    }
}

/// Appends YAML lines to a string, at an indentation.
#[derive(Default)]
pub struct Writer {
    pub out: String,
}

impl Writer {
    /// `key: value` at `indent`, the value already rendered.
    pub fn entry(&mut self, indent: usize, key: &str, value: &str) {
        let _ = writeln!(self.out, "{:indent$}{}: {value}", "", scalar(key));
    }

    /// `key: string` at `indent`, the string quoted as needed.
    pub fn string(&mut self, indent: usize, key: &str, value: &str) {
        self.entry(indent, key, &scalar(value));
    }

    /// `key:` opening a nested block at `indent`.
    pub fn open(&mut self, indent: usize, key: &str) {
        let _ = writeln!(self.out, "{:indent$}{}:", "", scalar(key));
    }

    /// A block sequence of strings under `key`, or `key: []` when empty.
    pub fn list(&mut self, indent: usize, key: &str, items: &[&str]) {
        if items.is_empty() {
            self.entry(indent, key, "[]");
            return;
        }
        self.open(indent, key);
        for item in items {
            let _ = writeln!(self.out, "{:indent$}  - {}", "", scalar(item));
        }
    }

    /// A raw line at `indent`.
    pub fn line(&mut self, indent: usize, text: &str) {
        let _ = writeln!(self.out, "{:indent$}{text}", "");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every string reads back as itself, as a string, through the YAML parser the config
    /// loader uses.
    #[test]
    fn scalars_read_back_as_the_same_string() {
        let cases = [
            "ada@example.com",
            "Ada Lovelace",
            "urn:scim:tonkean",
            "${TONKEAN_SCIM_TOKEN}",
            "yes",
            "No",
            "null",
            "~",
            "true",
            "0042",
            "1e3",
            "12:30",
            "+1 555 0100",
            "-1",
            ".inf",
            "a: b",
            "a #b",
            "#hash",
            "*alias",
            "&anchor",
            "!tag",
            "%directive",
            "@at",
            "`tick",
            "|pipe",
            ">fold",
            "- dash",
            "?q",
            "[x]",
            "{x}",
            "a, b",
            "'single'",
            "\"double\"",
            "back\\slash",
            "line\nbreak",
            "tab\there",
            "trailing ",
            " leading",
            "",
            "Łukasz Żółć",
            "名前",
            "Ωμέγα",
            "emoji 🎉",
            "zero\u{200b}width",
            "sep\u{2028}line",
            "bom\u{feff}",
            "nul\u{0}byte",
            "del\u{7f}",
            "c1\u{85}next",
            "end:",
            "a:b:c",
            "x  y",
        ];
        for case in cases {
            let text = format!(
                "k: {}\nl: {}\n",
                scalar(case),
                flow_value(&json_array(case))
            );
            let parsed: serde_json::Value = serde_saphyr::from_str(&text)
                .unwrap_or_else(|e| panic!("{case:?} as {text:?}: {e}"));
            assert_eq!(parsed["k"], Value::String(case.to_owned()), "{text}");
            assert_eq!(parsed["l"], json_array(case), "{text}");
        }
    }

    fn json_array(s: &str) -> Value {
        serde_json::json!([s, {"k": s, "n": 1}])
    }

    #[test]
    fn plain_where_a_person_would_write_plain() {
        for plain in [
            "ada@example.com",
            "urn:scim:tonkean",
            "${TOKEN}",
            "Process Owners",
            "https://example.com/scim/v2",
            "embedded:.scimform/store",
        ] {
            assert_eq!(scalar(plain), plain);
        }
    }
}
