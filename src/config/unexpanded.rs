//! `${...}` written where nothing is expanded.
//!
//! Variables are read only in a provider's `url` and `token` (see `interpolate`). Anywhere
//! else a `${...}` would reach the server as written (`userName: ada@${DOMAIN}` would create
//! the user `ada@${DOMAIN}`), so each one is an error that names it.
//!
//! The check runs on each file's parsed tree, whichever YAML reader built it, and covers every
//! string in it, keys included, at any depth: a user's attributes and extension values, a
//! group's members, role names and targets, and a provider's settings other than `url` and
//! `token`. A file whose text holds neither a `$` nor an escape (which could spell one) holds
//! no reference, and is not walked.

use super::diagnostic::{Diagnostic, Errors};
use super::interpolate::references;
use super::load::Document;
use super::node::{Node, Value};
use super::source::Sources;
use super::suggest::closest;

/// The provider settings whose `${VAR}` references are expanded.
const EXPANDED: &[&str] = &["url", "token"];

/// The longest reference quoted in a message; a longer one is cut.
const MAX_QUOTED: usize = 60;

/// Reports every `${...}` in `document` outside a provider's `url` and `token`.
pub(crate) fn check(document: &Document<'_>, sources: &Sources, errors: &mut Errors) {
    let Some(root) = document
        .root
        .as_ref()
        .filter(|_| document.may_hold_references)
    else {
        return;
    };
    let mut check = Check { sources, errors };
    let Some(entries) = root.as_map() else {
        check.walk(root);
        return;
    };
    for (key, value) in entries {
        check.walk(key);
        match (key.as_str(), value.as_map()) {
            (Some("providers"), Some(providers)) => {
                for (name, provider) in providers {
                    check.walk(name);
                    check.provider(provider);
                }
            }
            _ => check.walk(value),
        }
    }
}

struct Check<'s> {
    sources: &'s Sources,
    errors: &'s mut Errors,
}

impl Check<'_> {
    fn provider(&mut self, provider: &Node<'_>) {
        let Some(settings) = provider.as_map() else {
            self.walk(provider);
            return;
        };
        for (key, value) in settings {
            self.walk(key);
            // A misspelt `token:` is reported as an unknown key; its value is no less meant
            // to be read from the environment.
            let expanded = key
                .as_str()
                .is_some_and(|k| closest(k, EXPANDED.iter().copied()).is_some());
            if !expanded {
                self.walk(value);
            }
        }
    }

    fn walk(&mut self, node: &Node<'_>) {
        match &node.value {
            Value::String(text) => self.string(node, text),
            Value::Seq(items) => items.iter().for_each(|item| self.walk(item)),
            Value::Map(entries) => {
                for (key, value) in entries {
                    self.walk(key);
                    self.walk(value);
                }
            }
            Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) => {}
        }
    }

    fn string(&mut self, node: &Node<'_>, text: &str) {
        for reference in references(text) {
            let file = self.sources.get(node.span.source());
            // Where the file holds the string as written, the caret goes under the reference;
            // otherwise (escapes, folded lines) under the whole scalar.
            let span = file
                .text_offset(node.span, text)
                .map_or(node.span, |start| {
                    node.span.sub(start + reference.start, reference.len())
                });
            let message = if file.hides(node.span) {
                "a `${...}` reference is not expanded here: variables are read only in a provider's `url` and `token`".to_owned()
            } else {
                format!(
                    "`{}` is not expanded here: variables are read only in a provider's `url` and `token`",
                    quoted(&text[reference])
                )
            };
            self.errors.push(
                Diagnostic::new(message)
                    .at(self.sources, span, "not expanded")
                    .help(
                        "write the value itself: this text would be sent to the server as written",
                    ),
            );
        }
    }
}

/// `reference`, cut to [`MAX_QUOTED`] bytes (on a character boundary).
fn quoted(reference: &str) -> String {
    if reference.len() <= MAX_QUOTED {
        return reference.to_owned();
    }
    let mut end = MAX_QUOTED;
    while !reference.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &reference[..end])
}
