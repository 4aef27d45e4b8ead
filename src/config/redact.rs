//! Masking of secrets in the text that error messages quote (README, Secrets in output).
//!
//! A config should never hold a literal token (validation rejects one), but when it does, no
//! error snippet may print it. Snippets quote whole lines around the text they are about, so
//! they quote the file as [`SourceFile::display_text`](super::SourceFile::display_text) gives
//! it: the text with every secret overwritten by `*`, byte for byte, newlines kept, so that
//! every offset, line and column stays where it was.
//!
//! What is a secret is read from the parsed tree, not from the text, so that every YAML
//! spelling of a token is found: plain, quoted keys and values, the value on the next line,
//! block scalars (`|`, `>-`), flow mappings, JSON, merge keys. A secret is the value of a
//! token-like key (`token`, a near miss such as `tokne`, or a key ending in `token`) that is
//! not exactly one `${VAR}` reference — every scalar inside it, keys included — and every other
//! scalar of the file equal to one of those, which covers the anchor an alias (`token: *t`)
//! copies its value from.
//!
//! A file that does not parse is shown only up to the end of the line where parsing stopped,
//! so that nothing the parser did not read reaches a snippet; within it, what the parser had
//! read is masked as above, a token-like key whose value was being read when it stopped is
//! masked to the end, and [`mask_token_lines`] masks what is left on lines that name a token.

use std::borrow::Cow;
use std::ops::Range;

use foldhash::HashSet;

use super::interpolate::Template;
use super::node::{Node, Value};
use super::suggest::within_one_edit;

/// Something parsed: a node, or the entries of a mapping the parser had not finished.
#[derive(Clone, Copy)]
pub(crate) enum Part<'n, 'a> {
    Node(&'n Node<'a>),
    Entries(&'n [(Node<'a>, Node<'a>)]),
}

/// Byte ranges of secrets in one file, found in its parsed nodes.
#[derive(Debug, Default)]
pub(crate) struct Secrets<'n> {
    ranges: Vec<Range<usize>>,
    /// The scalar values found under token-like keys.
    values: HashSet<Scalar<'n>>,
}

/// A scalar value, as a set can hold it (a float by its bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Scalar<'n> {
    String(&'n str),
    Int(i64),
    Float(u64),
}

impl<'n> Scalar<'n> {
    /// The value of a string or number node; `None` for others (a boolean is no secret worth
    /// looking for elsewhere: every `true` of the file would be masked).
    fn of(value: &'n Value<'_>) -> Option<Self> {
        match value {
            Value::String(s) => Some(Scalar::String(s)),
            Value::Int(i) => Some(Scalar::Int(*i)),
            Value::Float(f) => Some(Scalar::Float(f.to_bits())),
            _ => None,
        }
    }
}

impl<'n> Secrets<'n> {
    /// Finds the secrets in `parts`: the tree of one file, or what the parser had built of
    /// it when it stopped.
    pub(crate) fn find<'a>(parts: &[Part<'n, 'a>]) -> Self {
        let mut secrets = Secrets::default();
        for part in parts {
            match part {
                Part::Node(node) => secrets.walk(node),
                Part::Entries(entries) => secrets.walk_entries(entries),
            }
        }
        if !secrets.values.is_empty() {
            for part in parts {
                match part {
                    Part::Node(node) => secrets.copies(node),
                    Part::Entries(entries) => {
                        for (key, value) in *entries {
                            secrets.copies(key);
                            secrets.copies(value);
                        }
                    }
                }
            }
        }
        secrets
    }

    /// Masks from `start` to the end of the text: the value of a token-like key that the
    /// parser was reading when it stopped.
    pub(crate) fn mask_from(&mut self, start: usize) {
        self.ranges.push(start..usize::MAX);
    }

    /// The ranges found, for [`mask`].
    pub(crate) fn into_ranges(self) -> Vec<Range<usize>> {
        self.ranges
    }

    fn walk(&mut self, node: &'n Node<'_>) {
        match &node.value {
            Value::Map(entries) => self.walk_entries(entries),
            Value::Seq(items) => items.iter().for_each(|item| self.walk(item)),
            _ => {}
        }
    }

    fn walk_entries(&mut self, entries: &'n [(Node<'_>, Node<'_>)]) {
        for (key, value) in entries {
            if is_token_key(key) && !is_reference(value) {
                self.secret(value);
            } else {
                self.walk(key);
                self.walk(value);
            }
        }
    }

    /// Marks every scalar of `node` as secret.
    fn secret(&mut self, node: &'n Node<'_>) {
        match &node.value {
            Value::Null => {}
            Value::Map(entries) => {
                for (key, value) in entries {
                    self.secret(key);
                    self.secret(value);
                }
            }
            Value::Seq(items) => items.iter().for_each(|item| self.secret(item)),
            scalar => {
                self.ranges.push(range(node));
                self.values.extend(Scalar::of(scalar));
            }
        }
    }

    /// Marks every scalar equal to a secret: an anchored value that an alias copies, or the
    /// same text written twice.
    fn copies(&mut self, node: &Node<'_>) {
        match &node.value {
            Value::Map(entries) => {
                for (key, value) in entries {
                    self.copies(key);
                    self.copies(value);
                }
            }
            Value::Seq(items) => items.iter().for_each(|item| self.copies(item)),
            scalar => {
                if Scalar::of(scalar).is_some_and(|s| self.values.contains(&s)) {
                    self.ranges.push(range(node));
                }
            }
        }
    }
}

fn range(node: &Node<'_>) -> Range<usize> {
    node.span.start()..node.span.start() + node.span.len()
}

/// Whether `key` names a token, or was probably meant to: `token`, a key one typo away from
/// it (`tokne`, `Token`, `tokens`), or a key ending in `token` (`api_token`, `accessToken`).
/// `token_file` holds a path, not a secret.
pub(crate) fn is_token_key(key: &Node<'_>) -> bool {
    let Some(key) = key.as_str() else {
        return false;
    };
    // This runs for every key of every file: the common case, an ASCII key that is no token,
    // is told from its bytes without allocating.
    if key.is_ascii() {
        let word = key
            .bytes()
            .filter(|b| !matches!(b, b'_' | b'-' | b' '))
            .map(|b| b.to_ascii_lowercase());
        let length = word.clone().count();
        if length > 6 {
            return word.skip(length - 5).eq(*b"token");
        }
        if length < 4 {
            return false;
        }
    }
    let word = key
        .chars()
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .flat_map(char::to_lowercase);
    let length = word.clone().count();
    if length > 6 {
        // Too long to be one edit from `token`: a token only if it ends in it.
        return word.skip(length - 5).eq("token".chars());
    }
    if length < 4 {
        return false;
    }
    let word: Vec<char> = word.collect();
    word.ends_with(&['t', 'o', 'k', 'e', 'n']) || within_one_edit(&word, &['t', 'o', 'k', 'e', 'n'])
}

/// Whether a token's value is exactly one `${VAR}` reference, the one form that is no secret.
fn is_reference(value: &Node<'_>) -> bool {
    value
        .as_str()
        .and_then(|text| Template::parse(text).ok())
        .is_some_and(|template| template.single_var().is_some())
}

/// `text` with the bytes of `ranges` (clipped to the text, trailing whitespace left out)
/// overwritten by `*`, line breaks kept. Every character is replaced whole, so the result is UTF-8 of the same length.
pub(crate) fn mask<'t>(text: &'t str, ranges: &[Range<usize>]) -> Cow<'t, str> {
    if ranges.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut bytes = text.as_bytes().to_vec();
    for range in ranges {
        let mut end = range.end.min(bytes.len());
        let start = range.start.min(end);
        // A block scalar's span runs to the indentation of the next line: whitespace at the
        // end of a range is no part of the value.
        while end > start && bytes[end - 1].is_ascii_whitespace() {
            end -= 1;
        }
        for byte in &mut bytes[start..end] {
            if !matches!(*byte, b'\n' | b'\r') {
                *byte = b'*';
            }
        }
    }
    // Only whole characters were overwritten (a range starts and ends on character
    // boundaries, since spans do, and every byte of a character is replaced): valid UTF-8.
    Cow::Owned(String::from_utf8(bytes).expect("masking keeps UTF-8"))
}

/// Masks what follows a token key on each line of `text`, for the part of a file the parser
/// could not read: after `token:` (the key plain or quoted, in any case), the rest of the
/// line, unless it is exactly one `${VAR}` reference.
pub(crate) fn mask_token_lines(text: &str) -> Cow<'_, str> {
    let mut ranges = Vec::new();
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        token_values(line, start, &mut ranges);
        start += line.len();
    }
    mask(text, &ranges)
}

/// The ranges after each `token:` key of `line`, which starts at `offset` in its text.
fn token_values(line: &str, offset: usize, ranges: &mut Vec<Range<usize>>) {
    let lower = line.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find("token") {
        let key_end = from + found + "token".len();
        from = key_end;
        let rest = &line[key_end..];
        let after_quote = rest.strip_prefix(['"', '\'']).unwrap_or(rest);
        let Some(value) = after_quote
            .trim_start_matches([' ', '\t'])
            .strip_prefix(':')
        else {
            continue;
        };
        let value_start = line.len() - value.trim_start_matches([' ', '\t']).len();
        if !is_reference_text(value) {
            ranges.push(offset + value_start..offset + line.len());
        }
    }
}

/// Whether the text after a key's `:` is one `${VAR}` reference, plain or quoted, followed by
/// nothing but the end of a flow entry or a comment.
fn is_reference_text(value: &str) -> bool {
    let value = value.trim_start_matches([' ', '\t']);
    let (quote, unquoted) = match value.strip_prefix(['"', '\'']) {
        Some(rest) => (&value[..1], rest),
        None => ("", value),
    };
    let Some(close) = unquoted.find('}') else {
        return false;
    };
    let (reference, rest) = unquoted.split_at(close + 1);
    let rest = rest.strip_prefix(quote).unwrap_or("\u{0}");
    let rest = rest.trim_start_matches([' ', '\t']);
    let ends = rest.is_empty() || rest.starts_with([',', '}', ']', '#', '\n', '\r']);
    ends && Template::parse(reference).is_ok_and(|t| t.single_var().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_keys_are_told_from_others() {
        let key = |text: &'static str| Node {
            value: Value::String(std::borrow::Cow::Borrowed(text)),
            span: crate::config::source::Span::new(SourceId::default(), 0, 0),
        };
        for token in [
            "token",
            "Token",
            "tokne",
            "tokens",
            "oken",
            "api_token",
            "accessToken",
            "my-api-TOKEN",
        ] {
            assert!(is_token_key(&key(token)), "{token}");
        }
        for other in [
            "token_file",
            "userName",
            "title",
            "tok",
            "members",
            "tokenizer",
            "displayName",
        ] {
            assert!(!is_token_key(&key(other)), "{other}");
        }
    }
    use crate::config::source::SourceId;
    use crate::config::yaml;

    /// The text as error snippets show it, when it parses.
    fn masked(text: &str) -> String {
        let root = yaml::parse(text, SourceId::default()).unwrap().unwrap();
        mask(text, &Secrets::find(&[Part::Node(&root)]).into_ranges()).into_owned()
    }

    #[test]
    fn every_spelling_of_a_literal_token_is_masked() {
        let secret = "s3cr3t-Tok3n";
        for text in [
            format!("p:\n  token: {secret}\n"),
            format!("p:\n  'token': '{secret}'\n"),
            format!("p:\n  \"token\": \"{secret}\"\n"),
            format!("p:\n  token:\n    {secret}\n"),
            format!("p:\n  token: |\n    {secret}\n"),
            "p:\n  token: >-\n    s3cr3t-\n    Tok3n\n".to_owned(),
            format!("p: {{url: x, token: {secret}}}\n"),
            format!("{{\"p\": {{\"url\": \"x\", \"token\": \"{secret}\"}}}}\n"),
            format!("a: &t {secret}\np:\n  token: *t\n"),
            format!("a: &t\n  token: {secret}\np:\n  <<: *t\n"),
            format!("p:\n  ? token\n  : {secret}\n"),
            format!("p:\n  tokne: {secret}\n"),
            format!("p:\n  token: [{secret}]\n"),
            format!("p:\n  token: ${{HOME}}{secret}\n"),
            "p:\n  token: \"s3cr\\x33t-Tok3n\"\n".to_owned(),
        ] {
            let shown = masked(&text);
            assert_eq!(shown.len(), text.len());
            assert_eq!(shown.lines().count(), text.lines().count(), "{text}");
            assert!(
                !shown.contains("s3cr") && !shown.contains("Tok3n"),
                "{text}\nshown as\n{shown}"
            );
        }
    }

    #[test]
    fn references_and_other_keys_are_shown() {
        let text = "p:\n  token: ${T}\n  token_file: t\n  url: https://x\n  q: {token: '${U}'}\n";
        assert_eq!(masked(text), text);
    }

    #[test]
    fn keeps_characters_whole() {
        let text = "p:\n  token: pässwörd\n";
        let shown = masked(text);
        assert_eq!(shown, "p:\n  token: **********\n");
        assert_eq!(shown.len(), text.len());
    }

    #[test]
    fn token_lines_are_masked_to_their_end() {
        let text = "a:\n  token: s3cret # why\n  token_file: t\n  b: { \"token\": \"x1x\", c: 1 }\n  token: ${T}\n  c: { token: ${U}, d: 2 }\n  'token': '${V}' # ok\n  Token:   ${HOME}s3cret\n  token: ${T} s3cret\n";
        let shown = mask_token_lines(text);
        assert_eq!(shown.len(), text.len());
        assert!(
            !shown.contains("s3cret") && !shown.contains("x1x"),
            "{shown}"
        );
        for kept in [
            "  token_file: t\n",
            "  token: ${T}\n",
            "  c: { token: ${U}, d: 2 }\n",
            "  'token': '${V}' # ok\n",
        ] {
            assert!(shown.contains(kept), "{kept:?} in {shown}");
        }
    }
}
