//! The digest of what a config file says, not of how it is written (README, Saved plans).
//!
//! A saved plan records one digest per file, and `apply PLAN` refuses the plan when one of them
//! differs. A digest of the bytes would make a comment, a blank line or re-indented YAML a
//! reason to plan again; this one is taken from the parsed node tree, so comments, blank lines,
//! indentation, quoting style, block or flow style, and the order of a mapping's keys do not
//! count, while any value that changes does. Aliases are replayed by the parser, so `*name`
//! reads as its anchor's value. The order of a sequence's items is kept: whether it matters
//! depends on the attribute, and a digest is no place to decide.
//!
//! The tree is fed to SHA-256 in one pass, in an encoding where no two different trees give the
//! same bytes: each value is a type tag, and strings, sequences and mappings carry their length
//! first. A mapping's entries are fed in the order of their keys, sorted with a reused scratch
//! list of entry positions, so the pass allocates nothing per mapping.

use std::cmp::Ordering;

use sha2::{Digest as _, Sha256};

use super::node::{Node, Value};

/// Bytes gathered before they are fed to the hasher: many small updates cost more than one
/// large one.
const BUFFER: usize = 64 * 1024;

/// `sha256:<hex>` of the meaning of a file whose tree is `root` (`None` for a file with no
/// document, or one that does not parse).
#[must_use]
pub(crate) fn digest(root: Option<&Node<'_>>) -> String {
    let mut feed = Feed {
        hasher: Sha256::new(),
        buffer: Vec::with_capacity(BUFFER),
        order: Vec::new(),
    };
    match root {
        Some(node) => feed.node(node),
        None => feed.byte(b'-'),
    }
    feed.finish()
}

struct Feed {
    hasher: Sha256,
    buffer: Vec<u8>,
    /// Positions of mapping entries, in key order: each mapping sorts its own at the end of
    /// the list and truncates them once its entries are fed.
    order: Vec<u32>,
}

impl Feed {
    fn node(&mut self, node: &Node<'_>) {
        match &node.value {
            Value::Null => self.byte(b'n'),
            Value::Bool(false) => self.byte(b'f'),
            Value::Bool(true) => self.byte(b't'),
            Value::Int(i) => {
                self.byte(b'i');
                self.bytes(&i.to_le_bytes());
            }
            Value::Float(f) => {
                self.byte(b'd');
                // `-0.0 == 0.0`: one value, one encoding.
                let f = if *f == 0.0 { 0.0 } else { *f };
                self.bytes(&f.to_bits().to_le_bytes());
            }
            Value::String(s) => {
                self.byte(b's');
                self.len(s.len());
                self.bytes(s.as_bytes());
            }
            Value::Seq(items) => {
                self.byte(b'[');
                self.len(items.len());
                for item in items {
                    self.node(item);
                }
            }
            Value::Map(entries) => {
                self.byte(b'{');
                self.len(entries.len());
                let start = self.order.len();
                let count = u32::try_from(entries.len()).expect("a mapping of under 2^32 entries");
                self.order.extend(0..count);
                self.order[start..].sort_by(|&a, &b| {
                    key_order(&entries[a as usize].0.value, &entries[b as usize].0.value)
                });
                for i in start..start + entries.len() {
                    let (key, value) = &entries[self.order[i] as usize];
                    self.node(key);
                    self.node(value);
                }
                self.order.truncate(start);
            }
        }
    }

    fn byte(&mut self, byte: u8) {
        self.buffer.push(byte);
    }

    fn len(&mut self, len: usize) {
        self.bytes(&(len as u64).to_le_bytes());
    }

    fn bytes(&mut self, bytes: &[u8]) {
        if self.buffer.len() + bytes.len() > BUFFER {
            self.hasher.update(&self.buffer);
            self.buffer.clear();
            if bytes.len() > BUFFER {
                self.hasher.update(bytes);
                return;
            }
        }
        self.buffer.extend_from_slice(bytes);
    }

    fn finish(mut self) -> String {
        self.hasher.update(&self.buffer);
        crate::digest::format_sha256(&self.hasher.finalize())
    }
}

/// The order mapping keys are fed in: by type, then by value. Keys are strings in any config
/// that loads; the rest is for a total order.
fn key_order(a: &Value<'_>, b: &Value<'_>) -> Ordering {
    fn rank(value: &Value<'_>) -> u8 {
        match value {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Int(_) => 2,
            Value::Float(_) => 3,
            Value::String(_) => 4,
            Value::Seq(_) => 5,
            Value::Map(_) => 6,
        }
    }
    match (a, b) {
        (Value::String(a), Value::String(b)) => a.as_bytes().cmp(b.as_bytes()),
        (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
        (Value::Int(a), Value::Int(b)) => a.cmp(b),
        (Value::Float(a), Value::Float(b)) => a.total_cmp(b),
        (Value::Seq(a), Value::Seq(b)) => a
            .iter()
            .zip(b)
            .map(|(a, b)| key_order(&a.value, &b.value))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| a.len().cmp(&b.len())),
        (Value::Map(a), Value::Map(b)) => a
            .iter()
            .zip(b)
            .map(|((ak, av), (bk, bv))| {
                key_order(&ak.value, &bk.value).then_with(|| key_order(&av.value, &bv.value))
            })
            .find(|o| o.is_ne())
            .unwrap_or_else(|| a.len().cmp(&b.len())),
        _ => rank(a).cmp(&rank(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::digest;
    use crate::config::source::SourceId;
    use crate::config::yaml;

    fn of(text: &str) -> String {
        let root = yaml::parse(text, SourceId::default()).expect("the YAML parses");
        digest(root.as_ref())
    }

    const CONFIG: &str = "version: 1
users:
  - userName: ada@example.com
    name: { givenName: Ada, familyName: Lovelace }
    emails: [ada@example.com, ada@work.example.com]
    active: true
";

    #[test]
    fn how_a_file_is_written_does_not_count() {
        let same = [
            "# yaml-language-server: $schema=scimform.schema.json\n\
             version: 1   # the format\n\n\
             users:\n\
             # Ada first\n\
             - userName: 'ada@example.com'\n\
             \x20 active: true\n\
             \x20 emails:\n\
             \x20   - ada@example.com\n\
             \x20   - \"ada@work.example.com\"\n\
             \x20 name:\n\
             \x20   familyName: Lovelace\n\
             \x20   givenName: Ada\n",
            "{version: 1, users: [{name: {givenName: Ada, familyName: Lovelace}, \
             userName: ada@example.com, active: true, \
             emails: [ada@example.com, ada@work.example.com]}]}",
        ];
        for text in same {
            assert_eq!(of(text), of(CONFIG), "{text}");
        }
    }

    #[test]
    fn every_change_of_a_value_counts() {
        let changed = [
            CONFIG.replace("Lovelace", "Byron"),
            CONFIG.replace("active: true", "active: false"),
            CONFIG.replace("active: true", "active: 'true'"),
            CONFIG.replace("version: 1", "version: 1.0"),
            CONFIG.replace(
                "[ada@example.com, ada@work.example.com]",
                "[ada@work.example.com, ada@example.com]",
            ),
            CONFIG.replace("givenName: Ada, ", ""),
            CONFIG.replace("familyName", "familyname"),
            format!("{CONFIG}groups: []\n"),
        ];
        for text in &changed {
            assert_ne!(of(text), of(CONFIG), "{text}");
        }
        // A string is not mistaken for the sequence or mapping its bytes might spell.
        assert_ne!(of("a: [b, c]"), of("a: [bc]"));
        assert_ne!(of("a: {b: c}"), of("a: {bc: ''}"));
        assert_ne!(of("a: ''"), of("a: "));
    }
}
