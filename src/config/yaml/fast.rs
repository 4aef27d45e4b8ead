//! A fast path for the YAML that configs are written in.
//!
//! The event parser underneath [`super::parse`] reads all of YAML, and pays for it: on a
//! 100,000-user config (26 MB) its events take about 0.9 s, most of the time `validate` needed.
//! Configs use a small part of YAML: block mappings and sequences indented by spaces, scalars on
//! one line (plain, single- or double-quoted), flow collections on one line, comments. This
//! reader handles that part only, straight from the bytes, several times faster.
//!
//! The contract: [`parse`] returns the tree the event parser builds, node for node, spans and
//! scalar types included, or `None`. It returns `None` for any text that it is not certain to
//! read the same way — anchors, aliases, tags, block scalars, explicit keys, directives, tabs,
//! carriage returns, scalars or flow collections over several lines, a second document,
//! duplicate or merge keys, bounds approached — and for every error. The caller then reads the
//! text with the event parser, so every error message, bound and rare feature behaves as before.
//!
//! The spans follow the event parser's: a scalar covers its text (quotes included); a block
//! mapping is an empty span at its first key; a block sequence an empty span at its first `-`,
//! or, when it is not indented under its key, where the first entry's content starts (the end of
//! that line if the entry is empty); a flow collection covers its opening bracket; an empty
//! mapping value is an empty span at its `:`; an empty sequence entry an empty span at the end
//! of its line.

use std::borrow::Cow;
use std::collections::HashSet;

use super::resolve_plain;
use crate::config::load::{MAX_DEPTH, MAX_NODES};
use crate::config::node::{Node, Value};
use crate::config::source::{SourceId, Span};

/// The text is outside what this reader is certain to read like the event parser.
struct Decline;

type Read<T> = Result<T, Decline>;

/// The longest implicit key read; YAML caps them at 1024 characters.
const MAX_KEY_BYTES: usize = 512;

/// Mappings with more entries than this look for duplicate keys through a hash set.
const PAIRWISE_KEYS: usize = 16;

/// Reads a document of the common subset into the tree [`super::parse`] would build, or `None`
/// when the text is outside the subset (an empty document included).
pub(super) fn parse(text: &str, source: SourceId) -> Option<Node<'_>> {
    if !ordinary_characters(text) {
        return None;
    }
    Reader {
        text,
        bytes: text.as_bytes(),
        source,
        pos: 0,
        line: 0,
        nodes: 0,
        depth: 0,
        entries: Vec::new(),
        items: Vec::new(),
    }
    .document()
    .ok()
}

/// Whether `text` holds only characters whose handling here is certain: no tabs, carriage
/// returns or other control characters, no byte order mark, no line or paragraph separators.
fn ordinary_characters(text: &str) -> bool {
    // Branch-free within a chunk, so that the check runs on whole vectors.
    let ascii_ok = text.as_bytes().chunks(64).all(|chunk| {
        let bad = chunk.iter().fold(0u8, |bad, &b| {
            bad | u8::from((b < 0x20 && b != b'\n') || b == 0x7f)
        });
        bad == 0
    });
    ascii_ok
        && (text.is_ascii()
            || !text.chars().any(|c| {
                matches!(
                    c,
                    '\u{80}'
                        ..='\u{9f}'
                            | '\u{2028}'
                            | '\u{2029}'
                            | '\u{feff}'
                            | '\u{fffe}'
                            | '\u{ffff}'
                )
            }))
}

/// How a plain scalar in block context ended.
#[derive(PartialEq, Eq)]
enum Stop {
    /// At the end of the line.
    Line,
    /// At a comment.
    Comment,
    /// At a `:` followed by a space or the end of the line: the scalar is a key.
    Colon,
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    source: SourceId,
    /// The byte being read.
    pos: usize,
    /// The start of the line being read.
    line: usize,
    /// Nodes read so far, counted as the event parser counts them.
    nodes: usize,
    /// Collections open around the current node.
    depth: usize,
    /// The entries of the open mappings, innermost last: each mapping takes its own off the
    /// top when it closes, in one allocation of the right size.
    entries: Vec<(Node<'a>, Node<'a>)>,
    /// The items of the open sequences, likewise.
    items: Vec<Node<'a>>,
}

impl<'a> Reader<'a> {
    fn document(&mut self) -> Read<Node<'a>> {
        if self.next_indent() == Some(0) && self.bytes[self.pos..].starts_with(b"---") {
            self.pos += 3;
            if !matches!(self.byte(), b' ' | b'\n' | 0) {
                return Err(Decline);
            }
            self.end_line()?;
        }
        let column = self.next_indent().ok_or(Decline)?;
        let root = self.block_node(column)?;
        if !matches!(root.value, Value::Map(_) | Value::Seq(_)) || self.next_indent().is_some() {
            return Err(Decline);
        }
        Ok(root)
    }

    /// The byte at the read position, `0` at the end of the text (a NUL byte never gets here).
    fn byte(&self) -> u8 {
        self.bytes.get(self.pos).copied().unwrap_or(0)
    }

    fn byte_at(&self, at: usize) -> u8 {
        self.bytes.get(at).copied().unwrap_or(0)
    }

    fn skip_spaces(&mut self) {
        while self.byte() == b' ' {
            self.pos += 1;
        }
    }

    /// Whether a comment starts at the read position: `#` after a space.
    fn at_comment(&self) -> bool {
        self.byte() == b'#' && self.pos > self.line && self.bytes[self.pos - 1] == b' '
    }

    /// Whether a block sequence entry starts at the read position: `-` and a space or the end
    /// of the line.
    fn at_entry(&self) -> bool {
        self.byte() == b'-' && matches!(self.byte_at(self.pos + 1), b' ' | b'\n' | 0)
    }

    /// Moves to the first character of the next line that holds more than spaces and a comment
    /// and returns its column, or `None` at the end of the text. Reading again from the same
    /// line start gives the same answer.
    fn next_indent(&mut self) -> Option<usize> {
        loop {
            self.pos = self.line;
            self.skip_spaces();
            match self.byte() {
                0 if self.pos == self.bytes.len() => return None,
                b'\n' | b'#' => {
                    self.skip_line();
                }
                _ => return Some(self.pos - self.line),
            }
        }
    }

    /// Moves past the end of the current line.
    fn skip_line(&mut self) {
        self.pos = self.bytes[self.pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(self.bytes.len(), |i| self.pos + i + 1);
        self.line = self.pos;
    }

    /// Reads what may follow the last node on a line (spaces, a comment) and moves to the next
    /// line. Returns where the line ends.
    fn end_line(&mut self) -> Read<usize> {
        self.skip_spaces();
        if self.at_comment() {
            self.skip_line();
            return Ok(self.pos - usize::from(self.bytes[self.pos - 1] == b'\n'));
        }
        match self.byte() {
            b'\n' => {
                self.pos += 1;
                self.line = self.pos;
                Ok(self.pos - 1)
            }
            0 if self.pos == self.bytes.len() => {
                self.line = self.pos;
                Ok(self.pos)
            }
            _ => Err(Decline),
        }
    }

    fn span(&self, start: usize, len: usize) -> Span {
        Span::new(self.source, start, len)
    }

    /// Counts one more node, within the node bound.
    fn count(&mut self) -> Read<()> {
        self.nodes += 1;
        if self.nodes >= MAX_NODES {
            return Err(Decline);
        }
        Ok(())
    }

    /// Enters a collection, within the depth bound.
    fn open(&mut self) -> Read<()> {
        self.count()?;
        if self.depth + 1 >= MAX_DEPTH {
            return Err(Decline);
        }
        self.depth += 1;
        Ok(())
    }

    /// A node that starts at the read position, in column `column`, in block context.
    fn block_node(&mut self, column: usize) -> Read<Node<'a>> {
        match self.byte() {
            b'-' if self.at_entry() => self.block_seq(column, false),
            b'[' | b'{' => {
                let node = self.flow_node()?;
                self.end_line()?;
                Ok(node)
            }
            _ => {
                let (node, is_key) = self.scalar_or_key()?;
                if is_key {
                    self.block_map(column, node)
                } else {
                    self.end_line()?;
                    Ok(node)
                }
            }
        }
    }

    /// A scalar in block context, and whether it is a key (a `:` follows). A key leaves the
    /// read position at its `:`.
    fn scalar_or_key(&mut self) -> Read<(Node<'a>, bool)> {
        let start = self.pos;
        if matches!(self.byte(), b'\'' | b'"') {
            let node = self.quoted()?;
            let is_key =
                self.byte() == b':' && matches!(self.byte_at(self.pos + 1), b' ' | b'\n' | 0);
            return Ok((node, is_key));
        }
        if !self.plain_start() {
            return Err(Decline);
        }
        let stop = loop {
            // Only these bytes can end a plain scalar; skip to the next one.
            match find_any(&self.bytes[self.pos..], [b'\n', b':', b'#']) {
                None => {
                    self.pos = self.bytes.len();
                    break Stop::Line;
                }
                Some(i) => self.pos += i,
            }
            match self.byte() {
                b'\n' => break Stop::Line,
                b':' if matches!(self.byte_at(self.pos + 1), b' ' | b'\n' | 0) => {
                    break Stop::Colon;
                }
                b'#' if self.bytes[self.pos - 1] == b' ' => break Stop::Comment,
                _ => {}
            }
            self.pos += 1;
        };
        let end = self.trimmed_end(start);
        let text = &self.text[start..end];
        if stop == Stop::Colon
            && (self.pos - start > MAX_KEY_BYTES
                || text
                    .bytes()
                    .any(|b| matches!(b, b'[' | b']' | b'{' | b'}' | b',')))
        {
            return Err(Decline);
        }
        self.count()?;
        let node = Node {
            span: self.span(start, end - start),
            value: resolve_plain(text),
        };
        Ok((node, stop == Stop::Colon))
    }

    /// The read position, moved back over the spaces before it, but not before `start`.
    fn trimmed_end(&self, start: usize) -> usize {
        let mut end = self.pos;
        while end > start && self.bytes[end - 1] == b' ' {
            end -= 1;
        }
        end
    }

    /// Whether a plain scalar may start at the read position.
    fn plain_start(&self) -> bool {
        match self.byte() {
            b'-' => {
                let next = self.byte_at(self.pos + 1);
                next.is_ascii_alphanumeric() || (next == b'.' && self.byte_at(self.pos + 2) != b'.')
            }
            b'.' => self.byte_at(self.pos + 1) != b'.',
            b' ' | b'\n' | 0 | b'?' | b':' | b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&'
            | b'*' | b'!' | b'|' | b'>' | b'\'' | b'"' | b'%' | b'@' | b'`' => false,
            _ => true,
        }
    }

    /// A block mapping in column `column` whose first key has been read; the read position is
    /// at that key's `:`.
    fn block_map(&mut self, column: usize, first: Node<'a>) -> Read<Node<'a>> {
        let span = self.span(first.span.start(), 0);
        self.open()?;
        let base = self.entries.len();
        let mut key = first;
        loop {
            let colon = self.pos;
            self.pos += 1;
            let value = self.block_value(column, colon)?;
            self.entries.push((key, value));
            match self.next_indent() {
                Some(c) if c == column => {
                    if self.at_entry() {
                        return Err(Decline);
                    }
                    let (node, is_key) = self.scalar_or_key()?;
                    if !is_key {
                        return Err(Decline);
                    }
                    key = node;
                }
                Some(c) if c > column => return Err(Decline),
                _ => break,
            }
        }
        self.close_map(span, base)
    }

    /// The value of a block mapping entry in column `column` whose `:` is at `colon`; the read
    /// position is just after the `:`.
    fn block_value(&mut self, column: usize, colon: usize) -> Read<Node<'a>> {
        self.skip_spaces();
        if self.at_comment() || matches!(self.byte(), b'\n' | 0) {
            self.end_line()?;
            return match self.next_indent() {
                Some(c) if c > column => self.block_node(c),
                Some(c) if c == column && self.at_entry() => self.block_seq(c, true),
                _ => {
                    self.count()?;
                    Ok(Node {
                        span: self.span(colon, 0),
                        value: Value::Null,
                    })
                }
            };
        }
        let node = match self.byte() {
            b'[' | b'{' => self.flow_node()?,
            b'-' if self.at_entry() => return Err(Decline),
            _ => {
                let (node, is_key) = self.scalar_or_key()?;
                if is_key {
                    return Err(Decline);
                }
                node
            }
        };
        self.end_line()?;
        Ok(node)
    }

    /// A block sequence in column `column`; the read position is at its first `-`.
    /// `indentless` for a sequence in the column of the key it is the value of.
    fn block_seq(&mut self, column: usize, indentless: bool) -> Read<Node<'a>> {
        let mut start = self.pos;
        self.open()?;
        let base = self.items.len();
        loop {
            self.pos += 1;
            self.skip_spaces();
            let item = if self.at_comment() || matches!(self.byte(), b'\n' | 0) {
                let line_end = self.end_line()?;
                if indentless && self.items.len() == base {
                    start = line_end;
                }
                match self.next_indent() {
                    Some(c) if c > column => self.block_node(c)?,
                    _ => {
                        self.count()?;
                        Node {
                            span: self.span(line_end, 0),
                            value: Value::Null,
                        }
                    }
                }
            } else {
                if indentless && self.items.len() == base {
                    start = self.pos;
                }
                self.block_node(self.pos - self.line)?
            };
            self.items.push(item);
            match self.next_indent() {
                Some(c) if c == column && self.at_entry() => {}
                Some(c) if c == column && indentless => break,
                Some(c) if c >= column => return Err(Decline),
                _ => break,
            }
        }
        let span = self.span(start, 0);
        Ok(self.close_seq(span, base))
    }

    /// Leaves a mapping whose entries are those from `base` up.
    fn close_map(&mut self, span: Span, base: usize) -> Read<Node<'a>> {
        self.depth -= 1;
        let entries = self.entries.split_off(base);
        check_keys(&entries)?;
        Ok(Node {
            span,
            value: Value::Map(entries),
        })
    }

    /// Leaves a sequence whose items are those from `base` up.
    fn close_seq(&mut self, span: Span, base: usize) -> Node<'a> {
        self.depth -= 1;
        Node {
            span,
            value: Value::Seq(self.items.split_off(base)),
        }
    }

    /// A node in flow context, on the current line.
    fn flow_node(&mut self) -> Read<Node<'a>> {
        match self.byte() {
            b'[' => self.flow_seq(),
            b'{' => self.flow_map(),
            b'\'' | b'"' => self.quoted(),
            _ => self.flow_plain(),
        }
    }

    fn flow_seq(&mut self) -> Read<Node<'a>> {
        let span = self.span(self.pos, 1);
        self.open()?;
        self.pos += 1;
        self.skip_spaces();
        let base = self.items.len();
        if self.byte() == b']' {
            self.pos += 1;
        } else {
            loop {
                let item = self.flow_node()?;
                self.items.push(item);
                if self.flow_separator(b']')? {
                    break;
                }
            }
        }
        Ok(self.close_seq(span, base))
    }

    fn flow_map(&mut self) -> Read<Node<'a>> {
        let span = self.span(self.pos, 1);
        self.open()?;
        self.pos += 1;
        self.skip_spaces();
        let base = self.entries.len();
        if self.byte() == b'}' {
            self.pos += 1;
        } else {
            loop {
                let key = match self.byte() {
                    b'\'' | b'"' => self.quoted()?,
                    b'[' | b'{' => return Err(Decline),
                    _ => self.flow_plain()?,
                };
                if self.byte() != b':'
                    || self.byte_at(self.pos + 1) != b' '
                    || self.bytes[self.pos - 1] == b' '
                {
                    return Err(Decline);
                }
                self.pos += 1;
                self.skip_spaces();
                if matches!(self.byte(), b',' | b'}' | b'\n' | 0) || self.at_comment() {
                    return Err(Decline);
                }
                let value = self.flow_node()?;
                self.entries.push((key, value));
                if self.flow_separator(b'}')? {
                    break;
                }
            }
        }
        self.close_map(span, base)
    }

    /// Reads what follows an entry of a flow collection: `,` and the next entry (`false`), or
    /// the closing bracket (`true`).
    fn flow_separator(&mut self, close: u8) -> Read<bool> {
        self.skip_spaces();
        match self.byte() {
            b',' => {
                self.pos += 1;
                self.skip_spaces();
                if self.byte() == close {
                    return Err(Decline);
                }
                Ok(false)
            }
            b if b == close => {
                self.pos += 1;
                Ok(true)
            }
            _ => Err(Decline),
        }
    }

    /// A plain scalar in flow context; the read position stops at the character that ended it.
    fn flow_plain(&mut self) -> Read<Node<'a>> {
        if !self.plain_start() {
            return Err(Decline);
        }
        let start = self.pos;
        loop {
            // Only these bytes can end a plain scalar in flow context; skip to the next one.
            match find_any(
                &self.bytes[self.pos..],
                [b'\n', b',', b']', b'}', b'[', b'{', b':', b'#'],
            ) {
                None => {
                    self.pos = self.bytes.len();
                    break;
                }
                Some(i) => self.pos += i,
            }
            match self.byte() {
                b'\n' | b',' | b']' | b'}' => break,
                b'[' | b'{' => return Err(Decline),
                b':' => match self.byte_at(self.pos + 1) {
                    b' ' | b',' | b']' | b'}' | b'\n' | 0 => break,
                    b'[' | b'{' => return Err(Decline),
                    _ => {}
                },
                b'#' if self.bytes[self.pos - 1] == b' ' => break,
                _ => {}
            }
            self.pos += 1;
        }
        let end = self.trimmed_end(start);
        self.count()?;
        Ok(Node {
            span: self.span(start, end - start),
            value: resolve_plain(&self.text[start..end]),
        })
    }

    /// A single- or double-quoted scalar on one line; the read position moves past the
    /// closing quote.
    fn quoted(&mut self) -> Read<Node<'a>> {
        let text = self.text;
        let start = self.pos;
        let quote = self.byte();
        self.pos += 1;
        // The value borrows the text between the quotes until an escape makes it differ.
        let mut unescaped: Option<String> = None;
        let mut from = self.pos;
        let end = loop {
            match self.byte() {
                b'\n' | 0 => return Err(Decline),
                b'\'' if quote == b'\'' => {
                    if self.byte_at(self.pos + 1) != b'\'' {
                        break self.pos;
                    }
                    // `''` stands for one quote: keep the first.
                    unescaped
                        .get_or_insert_with(String::new)
                        .push_str(&text[from..=self.pos]);
                    self.pos += 2;
                    from = self.pos;
                    continue;
                }
                b'"' if quote == b'"' => break self.pos,
                b'\\' if quote == b'"' => {
                    let value = unescaped.get_or_insert_with(String::new);
                    value.push_str(&text[from..self.pos]);
                    self.pos += 1;
                    value.push(self.escape()?);
                    from = self.pos;
                    continue;
                }
                _ => {}
            }
            self.pos += 1;
        };
        self.pos = end + 1;
        self.count()?;
        let value = match unescaped {
            None => Cow::Borrowed(&text[from..end]),
            Some(mut value) => {
                value.push_str(&text[from..end]);
                Cow::Owned(value)
            }
        };
        Ok(Node {
            span: self.span(start, self.pos - start),
            value: Value::String(value),
        })
    }

    /// The character a double-quoted escape stands for (YAML 1.2 §5.7); the read position is
    /// just after the backslash and moves past the escape.
    fn escape(&mut self) -> Read<char> {
        let letter = self.byte();
        self.pos += 1;
        let simple = match letter {
            b'0' => '\0',
            b'a' => '\u{7}',
            b'b' => '\u{8}',
            b't' => '\t',
            b'n' => '\n',
            b'v' => '\u{b}',
            b'f' => '\u{c}',
            b'r' => '\r',
            b'e' => '\u{1b}',
            b' ' => ' ',
            b'"' => '"',
            b'/' => '/',
            b'\\' => '\\',
            b'N' => '\u{85}',
            b'_' => '\u{a0}',
            b'L' => '\u{2028}',
            b'P' => '\u{2029}',
            b'x' => return self.hex_escape(2),
            b'u' => return self.hex_escape(4),
            b'U' => return self.hex_escape(8),
            _ => return Err(Decline),
        };
        Ok(simple)
    }

    fn hex_escape(&mut self, digits: usize) -> Read<char> {
        let hex = self.bytes.get(self.pos..self.pos + digits).ok_or(Decline)?;
        if !hex.iter().all(u8::is_ascii_hexdigit) {
            return Err(Decline);
        }
        let code = u32::from_str_radix(&self.text[self.pos..self.pos + digits], 16)
            .map_err(|_| Decline)?;
        self.pos += digits;
        char::from_u32(code).ok_or(Decline)
    }
}

/// Declines a mapping whose keys the event parser would treat differently: a key that is not a
/// string, a merge key (`<<`), or a key written twice.
fn check_keys(entries: &[(Node<'_>, Node<'_>)]) -> Read<()> {
    fn key<'n>(node: &'n Node<'_>) -> Read<&'n str> {
        match &node.value {
            Value::String(s) if s != "<<" => Ok(s),
            _ => Err(Decline),
        }
    }
    if entries.len() <= PAIRWISE_KEYS {
        for (i, (k, _)) in entries.iter().enumerate() {
            let k = key(k)?;
            for (earlier, _) in &entries[..i] {
                if key(earlier)? == k {
                    return Err(Decline);
                }
            }
        }
    } else {
        let mut seen = HashSet::with_capacity(entries.len());
        for (k, _) in entries {
            if !seen.insert(key(k)?) {
                return Err(Decline);
            }
        }
    }
    Ok(())
}

/// The index of the first byte of `bytes` that is one of `needles`. Eight bytes are tested at
/// a time: in `word ^ splat(needle)` a matching byte is zero, and `(x - 0x01..) & !x & 0x80..`
/// sets the high bit of the first zero byte (bits above it may be set spuriously, never below).
fn find_any<const N: usize>(bytes: &[u8], needles: [u8; N]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("a chunk of eight bytes"));
        let mut found = 0;
        for needle in needles {
            let x = word ^ (ONES * u64::from(needle));
            found |= x.wrapping_sub(ONES) & !x & HIGHS;
        }
        if found != 0 {
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|b| needles.contains(b))
        .map(|i| offset + i)
}

#[cfg(test)]
mod tests;
