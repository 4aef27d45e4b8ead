//! YAML text to a [`Node`] tree, straight from the parser's events.
//!
//! The tree is built from `granit_parser` events (the parser serde-saphyr itself stands on)
//! rather than through serde-saphyr's deserializer: the config is read into spanned nodes
//! anyway (every later error points at a file, line and column), and the events give those
//! spans directly. Every config is read by this one parser; figures are in
//! `docs/benchmarks.md`.
//!
//! Scalars are typed by the YAML 1.2 core schema: `yes`, `no`, `on` and `off` are strings,
//! not booleans. The input bounds (README, Limits) are enforced here: nesting depth, nodes replayed
//! by aliases (the "billion laughs" bomb), node count, and one document per file.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::ops::Range;

use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, ScanError, Span as YamlSpan, Tag};

use super::load::{MAX_ALIAS_NODES, MAX_DEPTH, MAX_NODES};
use super::node::{Node, Value};
use super::redact::{self, Part, Secrets};
use super::source::{SourceId, Span};

/// Why a file could not be read as YAML, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct YamlError {
    pub(crate) kind: YamlErrorKind,
    pub(crate) message: String,
    pub(crate) start: usize,
    pub(crate) len: usize,
    /// Byte ranges of secrets in what was read before the error (see [`redact`]), to be
    /// masked in the error's snippet.
    pub(crate) secrets: Vec<Range<usize>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum YamlErrorKind {
    /// Not YAML.
    Syntax,
    /// YAML beyond the input bounds.
    Limit,
    /// The same key twice in one mapping.
    DuplicateKey,
    /// More than one document in a file.
    MultipleDocuments,
    /// A YAML tag scimform does not read.
    Tag,
}

/// Parses `text` into a tree whose spans point into `source`, from the event parser's events:
/// all of YAML, with its errors. `Ok(None)` for a file without a document.
pub(crate) fn parse(text: &str, source: SourceId) -> Result<Option<Node<'_>>, YamlError> {
    Builder {
        source,
        text,
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        documents: 0,
        nodes: 0,
        replayed: 0,
    }
    .run()
}

struct Builder<'a> {
    source: SourceId,
    text: &'a str,
    stack: Vec<Frame<'a>>,
    /// Anchored nodes by anchor id, with the number of nodes each holds.
    anchors: HashMap<usize, (Node<'a>, usize)>,
    root: Option<Node<'a>>,
    documents: usize,
    nodes: usize,
    replayed: usize,
}

enum Frame<'a> {
    Seq {
        span: Span,
        anchor: usize,
        items: Vec<Node<'a>>,
        nodes: usize,
    },
    Map {
        span: Span,
        anchor: usize,
        entries: Vec<(Node<'a>, Node<'a>)>,
        key: Option<Node<'a>>,
        nodes: usize,
    },
}

impl<'a> Builder<'a> {
    fn run(mut self) -> Result<Option<Node<'a>>, YamlError> {
        match self.events() {
            Ok(()) => Ok(self.root),
            Err(mut error) => {
                error.secrets = self.secrets();
                Err(error)
            }
        }
    }

    /// The secrets in what was built when an error stopped the parser: the nodes built so
    /// far, and the value of a token key being read, to the end of the text.
    fn secrets(&self) -> Vec<Range<usize>> {
        let mut parts: Vec<Part<'_, 'a>> = self.root.iter().map(Part::Node).collect();
        let mut pending = Vec::new();
        for frame in &self.stack {
            match frame {
                Frame::Seq { items, .. } => parts.extend(items.iter().map(Part::Node)),
                Frame::Map { entries, key, .. } => {
                    parts.push(Part::Entries(entries));
                    if let Some(key) = key {
                        parts.push(Part::Node(key));
                        if redact::is_token_key(key) {
                            // From the value on, past the `:` after the key.
                            let rest = &self.text[key.span.start() + key.span.len()..];
                            let rest = rest.trim_start_matches([' ', '\t']);
                            let rest = rest.strip_prefix(':').unwrap_or(rest);
                            let rest = rest.trim_start_matches([' ', '\t']);
                            pending.push(self.text.len() - rest.len());
                        }
                    }
                }
            }
        }
        parts.extend(self.anchors.values().map(|(node, _)| Part::Node(node)));
        let mut secrets = Secrets::find(&parts);
        for start in pending {
            secrets.mask_from(start);
        }
        secrets.into_ranges()
    }

    fn events(&mut self) -> Result<(), YamlError> {
        let mut parser = Parser::new_from_str(self.text);
        while let Some(event) = parser.next_event() {
            let (event, span) = event.map_err(|e| self.scan_error(&e))?;
            let at = self.span(&span);
            match event {
                Event::DocumentStart(..) => {
                    self.documents += 1;
                    if self.documents > 1 {
                        return Err(error(
                            YamlErrorKind::MultipleDocuments,
                            "a config file holds a single YAML document",
                            at,
                        ));
                    }
                }
                Event::Scalar(value, style, anchor, tag) => {
                    self.grow(1, at)?;
                    let node = scalar(value, style, tag.as_deref(), at)?;
                    self.finish(node, anchor, 1);
                }
                Event::SequenceStart(_, anchor, _) => {
                    self.open(at)?;
                    self.stack.push(Frame::Seq {
                        span: at,
                        anchor,
                        items: Vec::new(),
                        nodes: 1,
                    });
                }
                Event::MappingStart(_, anchor, _) => {
                    self.open(at)?;
                    self.stack.push(Frame::Map {
                        span: at,
                        anchor,
                        entries: Vec::new(),
                        key: None,
                        nodes: 1,
                    });
                }
                Event::SequenceEnd | Event::MappingEnd => self.close()?,
                Event::Alias(id) => self.alias(id, at)?,
                Event::UnresolvedAlias(name) => {
                    return Err(error(
                        YamlErrorKind::Syntax,
                        format!("the alias `*{name}` refers to no anchor"),
                        at,
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Leaves the innermost collection and places it in its parent.
    fn close(&mut self) -> Result<(), YamlError> {
        // A mapping is checked while still on the stack, so that on error its entries are
        // among what was built, where secrets are looked for.
        if let Some(Frame::Map { entries, .. }) = self.stack.last_mut() {
            merge_and_check(entries)?;
        }
        match self.stack.pop() {
            Some(Frame::Seq {
                span,
                anchor,
                items,
                nodes,
            }) => self.finish(
                Node {
                    span,
                    value: Value::Seq(items),
                },
                anchor,
                nodes,
            ),
            Some(Frame::Map {
                span,
                anchor,
                entries,
                nodes,
                ..
            }) => {
                self.finish(
                    Node {
                        span,
                        value: Value::Map(entries),
                    },
                    anchor,
                    nodes,
                );
            }
            None => unreachable!("the parser balances collections"),
        }
        Ok(())
    }

    /// Replays an anchored node, within the alias bound.
    fn alias(&mut self, id: usize, at: Span) -> Result<(), YamlError> {
        let Some((node, count)) = self.anchors.get(&id).cloned() else {
            return Err(error(
                YamlErrorKind::Syntax,
                "this alias refers to a node that contains it",
                at,
            ));
        };
        self.replayed += count;
        if self.replayed > MAX_ALIAS_NODES {
            return Err(error(
                YamlErrorKind::Limit,
                format!("YAML aliases expand to more than {MAX_ALIAS_NODES} nodes"),
                at,
            ));
        }
        self.grow(count, at)?;
        // The alias stands where it is written; what it holds keeps the spans of its
        // definition.
        self.finish(Node { span: at, ..node }, 0, count);
        Ok(())
    }

    /// Enters a collection, within the depth bound.
    fn open(&mut self, at: Span) -> Result<(), YamlError> {
        self.grow(1, at)?;
        if self.stack.len() >= MAX_DEPTH {
            return Err(error(
                YamlErrorKind::Limit,
                format!("the YAML nests deeper than {MAX_DEPTH} levels"),
                at,
            ));
        }
        Ok(())
    }

    /// Counts `n` more nodes in the tree, within the node bound.
    fn grow(&mut self, n: usize, at: Span) -> Result<(), YamlError> {
        self.nodes += n;
        if self.nodes > MAX_NODES {
            return Err(error(
                YamlErrorKind::Limit,
                format!("the YAML holds more than {MAX_NODES} nodes"),
                at,
            ));
        }
        Ok(())
    }

    /// Places a complete node (holding `count` nodes) in its parent.
    fn finish(&mut self, node: Node<'a>, anchor: usize, count: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), count));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, nodes, .. }) => {
                items.push(node);
                *nodes += count;
            }
            Some(Frame::Map {
                entries,
                key,
                nodes,
                ..
            }) => {
                *nodes += count;
                match key.take() {
                    None => *key = Some(node),
                    Some(k) => entries.push((k, node)),
                }
            }
        }
    }

    fn span(&self, span: &YamlSpan) -> Span {
        match span.byte_range() {
            Some(range) => Span::new(self.source, range.start, range.len()),
            None => Span::new(
                self.source,
                byte_offset(self.text, span.start.line(), span.start.col()),
                0,
            ),
        }
    }

    fn scan_error(&self, e: &ScanError) -> YamlError {
        let marker = e.marker();
        let start = marker
            .byte_offset()
            .unwrap_or_else(|| byte_offset(self.text, marker.line(), marker.col()));
        error(
            YamlErrorKind::Syntax,
            e.kind().to_string(),
            Span::new(self.source, start.min(self.text.len()), 0),
        )
    }
}

/// A scalar node: plain scalars typed by the core schema, others (and `!!str`) strings. A
/// string the parser read straight from the file's text stays borrowed from it.
fn scalar<'a>(
    value: Cow<'a, str>,
    style: ScalarStyle,
    tag: Option<&Tag>,
    at: Span,
) -> Result<Node<'a>, YamlError> {
    let forced_string = match tag {
        None => false,
        Some(tag) if tag.is_yaml_core_schema_tag("str") => true,
        Some(_) => {
            return Err(error(
                YamlErrorKind::Tag,
                "YAML tags other than `!!str` have no meaning in a scimform config",
                at,
            ));
        }
    };
    let value = if style == ScalarStyle::Plain && !forced_string {
        match value {
            Cow::Borrowed(text) => resolve_plain(text),
            Cow::Owned(text) => resolve_plain(&text).into_owned(),
        }
    } else {
        Value::String(value)
    };
    Ok(Node { span: at, value })
}

fn error(kind: YamlErrorKind, message: impl Into<String>, at: Span) -> YamlError {
    YamlError {
        kind,
        message: message.into(),
        start: at.start(),
        len: at.len(),
        secrets: Vec::new(),
    }
}

/// Applies merge keys (`<<: *defaults`: keys written in the mapping win, then earlier merged
/// mappings) and rejects a key written twice. On error, `entries` are left as they were.
fn merge_and_check<'a>(entries: &mut Vec<(Node<'a>, Node<'a>)>) -> Result<(), YamlError> {
    let is_merge = |key: &Node| matches!(&key.value, Value::String(s) if s == "<<");
    if entries.len() <= 16 && !entries.iter().any(|(k, _)| is_merge(k)) {
        // Small mappings, the common case: compare pairwise, no allocation.
        for (i, (key, _)) in entries.iter().enumerate() {
            if entries[..i]
                .iter()
                .any(|(earlier, _)| earlier.value == key.value)
            {
                return Err(duplicate(key));
            }
        }
        return Ok(());
    }
    // Checked first, so that nothing is moved before an error.
    let mut seen: HashSet<String> = HashSet::new();
    for (key, value) in entries.iter() {
        if is_merge(key) {
            let sources = match &value.value {
                Value::Map(_) => std::slice::from_ref(value),
                Value::Seq(items) => items.as_slice(),
                _ => {
                    return Err(error(
                        YamlErrorKind::Syntax,
                        "a merge key (`<<`) takes a mapping or a list of mappings",
                        value.span,
                    ));
                }
            };
            if let Some(source) = sources.iter().find(|s| !matches!(s.value, Value::Map(_))) {
                return Err(error(
                    YamlErrorKind::Syntax,
                    "a merge key (`<<`) takes a mapping or a list of mappings",
                    source.span,
                ));
            }
        } else if !seen.insert(key_text(key)) {
            return Err(duplicate(key));
        }
    }
    let mut explicit = Vec::with_capacity(entries.len());
    let mut merged = Vec::new();
    for (key, value) in entries.drain(..) {
        if !is_merge(&key) {
            explicit.push((key, value));
            continue;
        }
        let sources = match value.value {
            Value::Seq(items) => items,
            other => vec![Node {
                span: value.span,
                value: other,
            }],
        };
        for source in sources {
            if let Value::Map(entries) = source.value {
                merged.extend(entries);
            }
        }
    }
    for (key, value) in merged {
        if seen.insert(key_text(&key)) {
            explicit.push((key, value));
        }
    }
    *entries = explicit;
    Ok(())
}

/// A comparable rendering of a key.
fn key_text(key: &Node<'_>) -> String {
    format!("{:?}", key.value)
}

fn duplicate(key: &Node<'_>) -> YamlError {
    let name = match &key.value {
        Value::String(s) => s.to_string(),
        other => format!("{other:?}"),
    };
    error(
        YamlErrorKind::DuplicateKey,
        format!("the key `{name}` appears twice in the same mapping"),
        key.span,
    )
}

/// Types a plain scalar by the YAML 1.2 core schema. A string borrows `text`.
fn resolve_plain(text: &str) -> Value<'_> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    let first = text.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return Value::String(Cow::Borrowed(text));
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return Value::Int(i);
        }
    } else if let Some(octal) = text.strip_prefix("0o") {
        if let Ok(i) = i64::from_str_radix(octal, 8) {
            return Value::Int(i);
        }
    } else if is_decimal_int(text) {
        return text.parse::<i64>().map_or_else(
            |_| Value::Float(text.parse().unwrap_or(f64::NAN)),
            Value::Int,
        );
    } else if is_float(text)
        && let Ok(f) = text.parse::<f64>()
    {
        return Value::Float(f);
    }
    Value::String(Cow::Borrowed(text))
}

/// `[-+]?[0-9]+`
fn is_decimal_int(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
fn is_float(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (mantissa, None),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match frac {
        Some(frac) => digits(int) && digits(frac) && !(int.is_empty() && frac.is_empty()),
        None => !int.is_empty() && digits(int),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

/// The byte offset of a 1-based line and 0-based column in characters.
fn byte_offset(text: &str, line: usize, column: usize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    line_start
        + text[line_start..]
            .char_indices()
            .nth(column)
            .map_or(text.len() - line_start, |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> Value<'_> {
        parse(text, SourceId::default()).unwrap().unwrap().value
    }

    fn error_of(text: &str) -> YamlError {
        parse(text, SourceId::default()).unwrap_err()
    }

    #[test]
    fn core_schema_scalars() {
        assert_eq!(resolve_plain("~"), Value::Null);
        assert_eq!(resolve_plain("True"), Value::Bool(true));
        assert_eq!(resolve_plain("yes"), Value::String("yes".into()));
        assert_eq!(resolve_plain("42"), Value::Int(42));
        assert_eq!(resolve_plain("-7"), Value::Int(-7));
        assert_eq!(resolve_plain("0x1F"), Value::Int(31));
        assert_eq!(resolve_plain("0o17"), Value::Int(15));
        assert_eq!(resolve_plain("1.5e3"), Value::Float(1500.0));
        assert_eq!(resolve_plain(".5"), Value::Float(0.5));
        assert_eq!(resolve_plain("1.2.3"), Value::String("1.2.3".into()));
        assert_eq!(
            resolve_plain("+1 555 0100"),
            Value::String("+1 555 0100".into())
        );
        assert_eq!(
            resolve_plain("ada@example.com"),
            Value::String("ada@example.com".into())
        );
    }

    #[test]
    fn quoted_and_tagged_scalars_are_strings() {
        let Value::Map(entries) = value("a: '1'\nb: !!str true\nc: \"null\"\n") else {
            panic!("a mapping");
        };
        let values: Vec<&Value> = entries.iter().map(|(_, v)| &v.value).collect();
        assert_eq!(
            values,
            [
                &Value::String("1".into()),
                &Value::String("true".into()),
                &Value::String("null".into())
            ]
        );
        assert_eq!(error_of("a: !custom x\n").kind, YamlErrorKind::Tag);
    }

    #[test]
    fn spans_are_byte_ranges() {
        let text = "é: [ada, \"grace\"]\n";
        let Value::Map(entries) = value(text) else {
            panic!("a mapping");
        };
        let Value::Seq(items) = &entries[0].1.value else {
            panic!("a list");
        };
        let slice = |n: &Node| &text[n.span.start()..n.span.start() + n.span.len()];
        assert_eq!(slice(&entries[0].0), "é");
        assert_eq!(slice(&items[0]), "ada");
        assert_eq!(slice(&items[1]), "\"grace\"");
    }

    #[test]
    fn merge_keys_and_duplicates() {
        let Value::Map(entries) = value("d: &d {a: 1, b: 2}\nm:\n  <<: *d\n  b: 3\n") else {
            panic!("a mapping");
        };
        let Value::Map(merged) = &entries[1].1.value else {
            panic!("a mapping");
        };
        let merged: Vec<(String, Value)> = merged
            .iter()
            .map(|(k, v)| (k.as_str().unwrap().to_owned(), v.value.clone()))
            .collect();
        assert_eq!(
            merged,
            [
                ("b".to_owned(), Value::Int(3)),
                ("a".to_owned(), Value::Int(1))
            ]
        );
        let e = error_of("a: 1\nb: 2\na: 3\n");
        assert_eq!(e.kind, YamlErrorKind::DuplicateKey);
        assert_eq!(e.start, 10);
    }

    #[test]
    fn bounds() {
        let deep = format!("x: {}{}\n", "[".repeat(40), "]".repeat(40));
        assert_eq!(error_of(&deep).kind, YamlErrorKind::Limit);
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (name, prev) in [("b", "a"), ("c", "b"), ("d", "c"), ("e", "d"), ("f", "e")] {
            let aliases = vec![format!("*{prev}"); 10].join(", ");
            bomb = format!("{bomb}{name}: &{name} [{aliases}]\n");
        }
        let e = error_of(&bomb);
        assert_eq!(e.kind, YamlErrorKind::Limit);
        assert!(e.message.contains("aliases"), "{}", e.message);
        assert_eq!(
            error_of("a: 1\n---\nb: 2\n").kind,
            YamlErrorKind::MultipleDocuments
        );
        assert_eq!(error_of("a: [1, 2\n").kind, YamlErrorKind::Syntax);
    }

    #[test]
    fn empty_document() {
        assert_eq!(parse("# nothing\n", SourceId::default()).unwrap(), None);
    }
}
