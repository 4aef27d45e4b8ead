//! `${VAR}` references in provider URLs and tokens.
//!
//! Parsing is eager and resolving is lazy: `validate` checks that every reference is
//! well-formed without needing the environment, and only the commands that talk to a server
//! look the variables up (`validate` needs none: README, Variables). `$$` writes a literal `$`.
//!
//! Nowhere else is anything expanded: [`references`] finds the `${...}` written elsewhere,
//! each of which is an error (see `unexpanded`).

use std::ops::Range;

/// A string with `${VAR}` references, split into its parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(String),
    /// A reference; `offset` and `len` locate `${NAME}` in the original string.
    Var {
        name: String,
        offset: usize,
        len: usize,
    },
}

/// A malformed reference, located in the original string.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    pub message: String,
    /// The message without any of the string's text, for strings that must not be shown
    /// (a token).
    pub summary: &'static str,
    pub offset: usize,
    pub len: usize,
}

/// A reference to a variable that is not set.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("environment variable `{name}` is not set")]
pub struct MissingVar {
    pub name: String,
    pub offset: usize,
    pub len: usize,
}

impl Template {
    /// Splits `text` into literal text and `${VAR}` references. A `$` not followed by `{` or
    /// `$` is literal text.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(dollar) = rest.find('$') {
            literal.push_str(&rest[..dollar]);
            let offset = text.len() - rest.len() + dollar;
            let after = &rest[dollar + 1..];
            if let Some(after_escape) = after.strip_prefix('$') {
                literal.push('$');
                rest = after_escape;
            } else if let Some(body) = after.strip_prefix('{') {
                let Some(close) = body.find('}') else {
                    return Err(TemplateError {
                        message: "`${` is not closed by `}`".into(),
                        summary: "`${` is not closed by `}`",
                        offset,
                        len: text.len() - offset,
                    });
                };
                let name = &body[..close];
                let len = close + 3;
                if !is_var_name(name) {
                    return Err(TemplateError {
                        message: format!("`{name}` is not a valid environment variable name"),
                        summary: "a reference does not name a valid environment variable",
                        offset,
                        len,
                    });
                }
                if !literal.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut literal)));
                }
                parts.push(Part::Var {
                    name: name.to_owned(),
                    offset,
                    len,
                });
                rest = &body[close + 1..];
            } else {
                literal.push('$');
                rest = after;
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Template { parts })
    }

    /// Whether the string holds no reference.
    #[must_use]
    pub fn is_literal(&self) -> bool {
        self.vars().next().is_none()
    }

    /// The variable's name when the string is exactly one reference and nothing else, as a
    /// token must be: a token is never written into the config, not even in part
    /// (README, Providers).
    #[must_use]
    pub fn single_var(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [Part::Var { name, .. }] => Some(name),
            _ => None,
        }
    }

    /// The names of the variables referenced, in order.
    pub fn vars(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Var { name, .. } => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// The text with every reference replaced by `lookup(name)`. Fails on the first variable
    /// that `lookup` does not know.
    pub fn resolve(&self, lookup: impl Fn(&str) -> Option<String>) -> Result<String, MissingVar> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Var { name, offset, len } => match lookup(name) {
                    Some(value) => out.push_str(&value),
                    None => {
                        return Err(MissingVar {
                            name: name.clone(),
                            offset: *offset,
                            len: *len,
                        });
                    }
                },
            }
        }
        Ok(out)
    }
}

/// The `${...}` references in `text`, as byte ranges from `${` to the `}` that closes it (to
/// the end of the text when none does), whether or not they name a valid variable.
pub(crate) fn references(text: &str) -> impl Iterator<Item = Range<usize>> + '_ {
    let bytes = text.as_bytes();
    let mut from = 0;
    std::iter::from_fn(move || {
        loop {
            let dollar = from + memchr::memchr(b'$', &bytes[from..])?;
            if bytes.get(dollar + 1) == Some(&b'{') {
                let end = memchr::memchr(b'}', &bytes[dollar + 2..])
                    .map_or(bytes.len(), |close| dollar + 2 + close + 1);
                from = end;
                return Some(dollar..end);
            }
            from = dollar + 1;
        }
    })
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Looks variables up in the process environment. Empty values count as unset: an empty
/// token or URL is never what was meant.
#[must_use]
pub fn from_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("scim.example.com".into()),
            "TOKEN" => Some("t0k3n".into()),
            _ => None,
        }
    }

    #[test]
    fn replaces_references() {
        let t = Template::parse("https://${HOST}/scim/v2").unwrap();
        assert!(!t.is_literal());
        assert_eq!(t.vars().collect::<Vec<_>>(), ["HOST"]);
        assert_eq!(t.resolve(env).unwrap(), "https://scim.example.com/scim/v2");
    }

    #[test]
    fn whole_value_reference() {
        let t = Template::parse("${TOKEN}").unwrap();
        assert_eq!(t.resolve(env).unwrap(), "t0k3n");
    }

    #[test]
    fn dollars_are_literal_unless_braced() {
        let t = Template::parse("a$b$$c$").unwrap();
        assert!(t.is_literal());
        assert_eq!(t.resolve(env).unwrap(), "a$b$c$");
        let t = Template::parse("$${HOST}").unwrap();
        assert_eq!(t.resolve(env).unwrap(), "${HOST}");
    }

    #[test]
    fn missing_variable_is_located() {
        let t = Template::parse("https://${HOST}/${NOPE}").unwrap();
        let err = t.resolve(env).unwrap_err();
        assert_eq!(
            err,
            MissingVar {
                name: "NOPE".into(),
                offset: 16,
                len: 7
            }
        );
    }

    #[test]
    fn single_reference() {
        let single = |text: &str| {
            Template::parse(text)
                .unwrap()
                .single_var()
                .map(str::to_owned)
        };
        assert_eq!(single("${TOKEN}"), Some("TOKEN".to_owned()));
        assert_eq!(single("${HOME}secret"), None);
        assert_eq!(single("abc${TOKEN}"), None);
        assert_eq!(single("${A}${B}"), None);
        assert_eq!(single("$${TOKEN}"), None);
        assert_eq!(single("literal"), None);
    }

    #[test]
    fn references_are_found_anywhere() {
        fn found(text: &str) -> Vec<&str> {
            references(text).map(|r| &text[r]).collect()
        }
        assert_eq!(found("ada@${DOMAIN}"), ["${DOMAIN}"]);
        assert_eq!(found("${A}x${b-c}"), ["${A}", "${b-c}"]);
        assert_eq!(found("$${A}"), ["${A}"]);
        assert_eq!(found("a${open"), ["${open"]);
        assert_eq!(found("${"), ["${"]);
        assert!(found("$5 {x} $ {y} $").is_empty());
        assert_eq!(found("é${É}"), ["${É}"]);
    }

    #[test]
    fn malformed_references() {
        let err = Template::parse("x${HOST").unwrap_err();
        assert_eq!((err.offset, err.len), (1, 6));
        let err = Template::parse("${1X}").unwrap_err();
        assert_eq!(err.message, "`1X` is not a valid environment variable name");
        assert!(Template::parse("${}").is_err());
        assert!(Template::parse("${A-B}").is_err());
    }
}
