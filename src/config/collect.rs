//! From parsed files to raw declarations: each provider, user, group and role is deserialized
//! on its own, so that every malformed one is reported, not only the first.

use foldhash::{HashMap, HashSet};

use super::diagnostic::{Diagnostic, Errors};
use super::load::Document;
use super::model::{GroupKey, UserKey};
use super::node::{Node, NodeError, Value};
use super::source::{Sources, Span};
use super::spanned::Spanned;
use super::suggest::closest;
use super::written::{RawGroup, RawProvider, RawRoleAssignment, RawUser, TOP_LEVEL_KEYS};

/// The version of the config format this build reads.
pub const SUPPORTED_VERSION: i64 = 1;

/// Every declaration of every file, in file order.
#[derive(Default)]
pub(crate) struct Declarations {
    pub(crate) providers: Vec<(Spanned<String>, Spanned<RawProvider>)>,
    /// One list per `users:` section: validation frees each list as it goes, so the raw and
    /// the validated users are not all held at once.
    pub(crate) users: Vec<Vec<Spanned<RawUser>>>,
    pub(crate) groups: Vec<Spanned<RawGroup>>,
    pub(crate) roles: Vec<(Spanned<String>, Spanned<RawRoleAssignment>)>,
    /// Whether every file was read and parsed: only then can "nothing declared" and "names
    /// nobody" checks be trusted.
    pub(crate) complete: bool,
    /// The start of the first file, for errors about the config as a whole.
    pub(crate) start: Option<Span>,
    /// Names of declarations that were reported malformed. References to them are not
    /// reported again as naming nobody.
    pub(crate) broken: Broken,
    /// The keys set aside from each declaration that was read only in part, by the
    /// declaration's span: what those keys would have said is unknown, and validation must
    /// not report what follows from their absence (a provider whose `preset` is misspelt
    /// still keeps roles).
    pub(crate) set_aside: HashMap<Span, Vec<String>>,
}

/// Names declared by entries that could not be read at all (not even in part).
#[derive(Default)]
pub(crate) struct Broken {
    pub(crate) providers: HashSet<String>,
    pub(crate) users: HashSet<UserKey>,
    pub(crate) groups: HashSet<GroupKey>,
}

impl Declarations {
    /// No declarations yet, from no file.
    pub(crate) fn new() -> Self {
        Declarations {
            complete: true,
            ..Declarations::default()
        }
    }

    /// Records the keys set aside from the declaration at `span`, if any.
    fn note(&mut self, span: Span, set_aside: Vec<String>) {
        if !set_aside.is_empty() {
            self.set_aside.insert(span, set_aside);
        }
    }
}

/// Adds the declarations of one parsed file to `declarations`.
pub(crate) fn collect(
    declarations: &mut Declarations,
    document: &Document<'_>,
    sources: &Sources,
    errors: &mut Errors,
) {
    declarations
        .start
        .get_or_insert(Span::new(document.source, 0, 0));
    let Some(root) = &document.root else {
        declarations.complete = false;
        return;
    };
    let Some(entries) = root.as_map() else {
        errors.push(
            Diagnostic::new("a config file must be a mapping of `version`, `providers`, `users`, `groups` and `roles`")
                .at(sources, root.span, "expected `key: value` lines here")
                .help("start the file with `version: 1`; see the config reference in README.md"),
        );
        declarations.complete = false;
        return;
    };
    let mut version_seen = false;
    for (key, value) in entries {
        let Some(name) = key.as_str() else {
            errors.push(
                Diagnostic::new("a top-level key must be a string")
                    .at(sources, key.span, "not a key")
                    .help(format!("use one of {}", list(TOP_LEVEL_KEYS))),
            );
            continue;
        };
        match name {
            "version" => {
                version_seen = true;
                check_version(value, sources, errors);
            }
            "providers" => {
                for (name, provider) in map_entries(key, value, sources, errors) {
                    match deserialize::<Spanned<RawProvider>>(provider, sources, errors) {
                        Some((p, set_aside)) => {
                            declarations.note(p.span, set_aside);
                            declarations.providers.push((name, p));
                        }
                        None => {
                            declarations.broken.providers.insert(name.value);
                        }
                    }
                }
            }
            "users" => {
                let items = seq_items(key, value, sources, errors);
                let mut users = Vec::with_capacity(items.len());
                for item in items {
                    match deserialize::<Spanned<RawUser>>(item, sources, errors) {
                        Some((u, set_aside)) => {
                            declarations.note(u.span, set_aside);
                            users.push(u);
                        }
                        None => {
                            if let Some(name) = string_at(item, "userName") {
                                declarations.broken.users.insert(UserKey::new(name));
                            }
                        }
                    }
                }
                declarations.users.push(users);
            }
            "groups" => {
                for item in seq_items(key, value, sources, errors) {
                    match deserialize::<Spanned<RawGroup>>(item, sources, errors) {
                        Some((g, set_aside)) => {
                            declarations.note(g.span, set_aside);
                            declarations.groups.push(g);
                        }
                        None => {
                            if let Some(name) = string_at(item, "displayName") {
                                declarations.broken.groups.insert(GroupKey::new(name));
                            }
                        }
                    }
                }
            }
            "roles" => {
                for (name, assignment) in map_entries(key, value, sources, errors) {
                    if let Some((r, _)) = deserialize(assignment, sources, errors) {
                        declarations.roles.push((name, r));
                    }
                }
            }
            other => errors.push(unknown_key(other, TOP_LEVEL_KEYS, key.span, sources)),
        }
    }
    if !version_seen {
        errors.push(
            Diagnostic::new("the file does not say which config version it is written in")
                .at(
                    sources,
                    Span::new(document.source, 0, 0),
                    "no `version` in this file",
                )
                .help(format!(
                    "add `version: {SUPPORTED_VERSION}` as the first line"
                )),
        );
    }
}

/// The string under `key` in a mapping node.
fn string_at<'a>(node: &'a Node<'_>, key: &str) -> Option<&'a str> {
    node.as_map()?
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .and_then(|(_, v)| v.as_str())
}

fn check_version(value: &Node<'_>, sources: &Sources, errors: &mut Errors) {
    match value.value {
        Value::Int(SUPPORTED_VERSION) => {}
        Value::Int(other) => errors.push(
            Diagnostic::new(format!(
                "unsupported config version {other}; this scimform reads version {SUPPORTED_VERSION}"
            ))
            .at(sources, value.span, "unsupported version")
            .help(format!(
                "write `version: {SUPPORTED_VERSION}`, or use the scimform release that reads version {other}"
            )),
        ),
        _ => errors.push(
            Diagnostic::new("`version` must be a number")
                .at(sources, value.span, "not a number")
                .help(format!("write `version: {SUPPORTED_VERSION}`")),
        ),
    }
}

/// The entries of a section that is a mapping of names (`providers`, `roles`). `null` (a
/// key with nothing under it) is an empty section.
fn map_entries<'a, 't>(
    key: &Node<'_>,
    value: &'a Node<'t>,
    sources: &Sources,
    errors: &mut Errors,
) -> Vec<(Spanned<String>, &'a Node<'t>)> {
    let entries = match &value.value {
        Value::Null => return Vec::new(),
        Value::Map(entries) => entries,
        _ => {
            let section = key.as_str().unwrap_or_default();
            errors.push(
                Diagnostic::new(format!("`{section}` must be a mapping of names"))
                    .at(sources, value.span, "expected `name:` entries")
                    .help(format!(
                        "write each entry as `  NAME: ...` indented under `{section}:`"
                    )),
            );
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (name, value) in entries {
        match &name.value {
            Value::String(s) => out.push((Spanned::new(s.clone().into_owned(), name.span), value)),
            _ => errors.push(
                Diagnostic::new("a name must be a string")
                    .at(sources, name.span, "not a string")
                    .help("quote the name"),
            ),
        }
    }
    out
}

/// The items of a section that is a list (`users`, `groups`).
fn seq_items<'a, 't>(
    key: &Node<'_>,
    value: &'a Node<'t>,
    sources: &Sources,
    errors: &mut Errors,
) -> &'a [Node<'t>] {
    match &value.value {
        Value::Null => &[],
        Value::Seq(items) => items,
        _ => {
            let section = key.as_str().unwrap_or_default();
            errors.push(
                Diagnostic::new(format!("`{section}` must be a list"))
                    .at(sources, value.span, "expected a list")
                    .help(format!("write each entry as `  - ...` under `{section}:`")),
            );
            &[]
        }
    }
}

/// Deserializes one entry, with the keys set aside to read it. serde stops at its first
/// error; to report every mistake in the entry, the key holding the error is set aside and the
/// rest deserialized again, until the rest is well-formed. The rest is returned, so that the
/// entry is still known, and still checked, for all that it says well; `None` when no part of
/// it reads (it is not a mapping, or a required key is what is wrong).
fn deserialize<T: serde::de::DeserializeOwned>(
    node: &Node<'_>,
    sources: &Sources,
    errors: &mut Errors,
) -> Option<(T, Vec<String>)> {
    let mut error = match node.deserialize() {
        Ok(value) => return Some((value, Vec::new())),
        Err(e) => e,
    };
    let mut rest = node.clone();
    let mut set_aside: Vec<String> = Vec::new();
    loop {
        errors.push(node_error(&error, node.span, sources));
        let unknown = other_unknown_keys(&rest, &error, sources);
        let unknown_spans: Vec<Span> = unknown.iter().filter_map(Diagnostic::span).collect();
        errors.0.extend(unknown);
        let Value::Map(entries) = &mut rest.value else {
            return None;
        };
        let before = entries.len();
        let span = error.span?;
        // A misspelt key stands for the key it is one edit from: what that key would have said
        // is unknown too (`tokne:` is no missing token).
        let expected = error
            .message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split_once('`'))
            .map(|(_, expected)| backticked(expected))
            .unwrap_or_default();
        entries.retain(|(key, value)| {
            let unknown = key.span == span || unknown_spans.contains(&key.span);
            let holds_error = unknown || value.contains_span(span);
            if let Some(name) = key.as_str().filter(|_| holds_error) {
                set_aside.push(name.to_owned());
                if let Some(meant) =
                    closest(name, expected.iter().map(String::as_str)).filter(|_| unknown)
                {
                    set_aside.push(meant.to_owned());
                }
            }
            !holds_error
        });
        if entries.len() == before {
            return None;
        }
        match rest.deserialize::<T>() {
            Ok(value) => return Some((value, set_aside)),
            // A required key that was set aside is reported already, as malformed.
            Err(next)
                if next
                    .message
                    .strip_prefix("missing field `")
                    .is_some_and(|f| set_aside.iter().any(|k| f == format!("{k}`"))) =>
            {
                return None;
            }
            Err(next) => error = next,
        }
    }
}

/// serde stops at the first unknown key; a mapping with several typos gets one error each.
fn other_unknown_keys(root: &Node<'_>, error: &NodeError, sources: &Sources) -> Vec<Diagnostic> {
    let (Some(span), Some(rest)) = (error.span, error.message.strip_prefix("unknown field `"))
    else {
        return Vec::new();
    };
    let expected = backticked(rest.split_once('`').map_or("", |(_, e)| e));
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    let Some(entries) = mapping_with_key(root, span) else {
        return Vec::new();
    };
    entries
        .iter()
        .filter(|(key, _)| key.span != span)
        .filter_map(|(key, _)| Some((key.as_str()?, key.span)))
        .filter(|(key, _)| !expected.contains(key))
        .map(|(key, key_span)| unknown_key(key, &expected, key_span, sources))
        .collect()
}

/// The mapping, somewhere under `node`, that holds a key at `span`.
fn mapping_with_key<'a, 't>(node: &'a Node<'t>, span: Span) -> Option<&'a [(Node<'t>, Node<'t>)]> {
    match &node.value {
        Value::Map(entries) => {
            if entries.iter().any(|(key, _)| key.span == span) {
                return Some(entries);
            }
            entries
                .iter()
                .find_map(|(_, value)| mapping_with_key(value, span))
        }
        Value::Seq(items) => items.iter().find_map(|item| mapping_with_key(item, span)),
        _ => None,
    }
}

/// Turns serde's message into one that says what is wrong and what to write instead.
fn node_error(error: &NodeError, fallback: Span, sources: &Sources) -> Diagnostic {
    let span = error.span.unwrap_or(fallback);
    let message = error.message.as_str();
    // serde quotes the value it found (``integer `1234` ``), which must not be a secret's.
    let hidden = sources.get(span.source()).hides(span);
    let unquoted = |found: &str| {
        if hidden {
            found.split(' ').next().unwrap_or_default().to_owned()
        } else {
            found.to_owned()
        }
    };
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let expected = backticked(expected);
        let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
        return unknown_key(field, &expected, span, sources);
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.trim_end_matches('`');
        return Diagnostic::new(format!("missing required key `{field}`"))
            .at(sources, span, format!("`{field}` is missing here"))
            .help(format!(
                "add `{field}: ...`; see the config reference in README.md"
            ));
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let (value, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let message = if hidden {
            "unknown value".to_owned()
        } else {
            format!("unknown value `{value}`")
        };
        return Diagnostic::new(message)
            .at(sources, span, "not one of the accepted values")
            .help(format!("use {}", list(&backticked(expected))));
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        let (found, expected) = rest
            .split_once(", expected ")
            .unwrap_or((rest, "another type"));
        let expected = plain_type(expected);
        let found = unquoted(&found.replace("unit value", "null"));
        let mut help = format!("write {expected} here");
        if expected == "a string" && !found.starts_with("sequence") && !found.starts_with("map") {
            help.push_str(" (quote the value to make it a string)");
        }
        if let Some(value) = found
            .strip_prefix("string \"")
            .and_then(|v| v.strip_suffix('"'))
            .filter(|_| expected == "a list")
        {
            help = format!("write a list, e.g. `[{value}]`");
        }
        return Diagnostic::new(format!("expected {expected}, found {found}"))
            .at(sources, span, format!("expected {expected}"))
            .help(help);
    }
    if let Some(rest) = message.strip_prefix("invalid value: ") {
        let (found, expected) = rest
            .split_once(", expected ")
            .unwrap_or((rest, "another value"));
        let expected = plain_type(expected);
        let found = unquoted(found);
        return Diagnostic::new(format!("expected {expected}, found {found}"))
            .at(sources, span, format!("expected {expected}"))
            .help(format!("write {expected} here"));
    }
    let message = if hidden {
        "this value is not accepted here"
    } else {
        message
    };
    Diagnostic::new(message.to_owned())
        .at(sources, span, "here")
        .help("see the config reference in README.md")
}

/// serde's names for number types, in words.
fn plain_type(expected: &str) -> String {
    match expected {
        // The format's one `u8` is `delete_percent`.
        "u8" => "a percentage from 0 to 100".into(),
        "u64" | "i64" => "a whole number".into(),
        "a borrowed string" => "a string".into(),
        "option" => "a value".into(),
        "a sequence" => "a list".into(),
        "a map" => "a mapping".into(),
        "a boolean" => "`true` or `false`".into(),
        other => other.to_owned(),
    }
}

/// The backticked words of serde's "expected one of `a`, `b`".
fn backticked(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn list<S: AsRef<str>>(items: &[S]) -> String {
    match items {
        [] => "nothing".into(),
        [one] => format!("`{}`", one.as_ref()),
        [init @ .., last] => format!(
            "{} or `{}`",
            init.iter()
                .map(|s| format!("`{}`", s.as_ref()))
                .collect::<Vec<_>>()
                .join(", "),
            last.as_ref()
        ),
    }
}

pub(crate) fn unknown_key(
    key: &str,
    expected: &[&str],
    span: Span,
    sources: &Sources,
) -> Diagnostic {
    let help = match closest(key, expected.iter().copied()) {
        Some(near) => format!(
            "did you mean `{near}`? Keys accepted here: {}",
            expected.join(", ")
        ),
        None if expected.is_empty() => "remove it".into(),
        None if expected.contains(&"extensions") => format!(
            "remove it, or declare it under `extensions:` with its schema URN (`extensions: {{ URN: {{ {key}: ... }} }}`). Keys accepted here: {}",
            expected.join(", ")
        ),
        None => format!("remove it, or use one of: {}", expected.join(", ")),
    };
    Diagnostic::new(format!("unknown key `{key}`"))
        .at(sources, span, "unknown key")
        .help(help)
}
