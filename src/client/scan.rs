//! Finding the members and items of JSON text that a parser has read before, without parsing
//! it again: the text is valid JSON, so only where each member and item begins and ends is
//! looked for. The diff reads live users this way, and the page reader a group's members.

use std::borrow::Cow;

/// Chooses among members the one called `name`, compared case-insensitively (RFC 7643 §2.1):
/// an exact match wins, then the last member written, as `client::Members::get` finds it.
pub(crate) struct Pick<'n, 'a> {
    name: &'n str,
    exact: Option<&'a str>,
    folded: Option<&'a str>,
}

impl<'n, 'a> Pick<'n, 'a> {
    pub(crate) fn new(name: &'n str) -> Self {
        Pick {
            name,
            exact: None,
            folded: None,
        }
    }

    pub(crate) fn offer(&mut self, key: &str, value: &'a str) {
        // Names of another length match in no case: most keys are passed over here.
        if key.len() != self.name.len() {
            return;
        }
        if key == self.name {
            self.exact = Some(value);
        } else if self.exact.is_none() && key.eq_ignore_ascii_case(self.name) {
            self.folded = Some(value);
        }
    }

    pub(crate) fn found(&self) -> Option<&'a str> {
        self.exact.or(self.folded)
    }
}

/// Offers each member of the JSON object `text` to `pick`; a `text` that is not an object
/// offers none.
pub(crate) fn offer_members<'a>(text: &'a str, pick: &mut Pick<'_, 'a>) {
    for (key, value) in members(text) {
        pick.offer(&key, value);
    }
}

/// The string the JSON text `raw` holds, borrowed unless it has escapes; `None` for anything
/// else.
pub(crate) fn string(raw: &str) -> Option<Cow<'_, str>> {
    match plain_string(raw) {
        Some(inner) => Some(Cow::Borrowed(inner)),
        None if raw.starts_with('"') => serde_json::from_str::<String>(raw).ok().map(Cow::Owned),
        None => None,
    }
}

/// The members of the valid JSON object `text`, each key decoded and each value as its text;
/// none when `text` is not an object.
pub(crate) fn members(text: &str) -> Members<'_> {
    let bytes = text.as_bytes();
    let at = skip_space(bytes, 0);
    if bytes.get(at) == Some(&b'{') {
        Members {
            text,
            at: Some(skip_space(bytes, at + 1)),
        }
    } else {
        Members { text, at: None }
    }
}

/// The members of a JSON object's text, found one by one: see [`members`].
pub(crate) struct Members<'a> {
    text: &'a str,
    /// Where the next member begins; `None` past the end.
    at: Option<usize>,
}

impl<'a> Iterator for Members<'a> {
    type Item = (Cow<'a, str>, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let (text, bytes) = (self.text, self.text.as_bytes());
        let mut at = self.at.take()?;
        if bytes.get(at) != Some(&b'"') {
            return None;
        }
        let key_end = string_end(bytes, at)?;
        let key = string(&text[at..key_end])?;
        at = skip_space(bytes, key_end);
        if bytes.get(at) != Some(&b':') {
            return None;
        }
        let start = skip_space(bytes, at + 1);
        let end = value_end(bytes, start)?;
        at = skip_space(bytes, end);
        if bytes.get(at) == Some(&b',') {
            self.at = Some(skip_space(bytes, at + 1));
        }
        Some((key, &text[start..end]))
    }
}

/// The items of a JSON array's text, each as its text; none when there is no text or it is
/// not an array.
pub(crate) struct Items<'a> {
    text: &'a str,
    /// Where the next item begins; `None` past the end.
    at: Option<usize>,
}

impl<'a> Items<'a> {
    pub(crate) fn of(text: Option<&'a str>) -> Self {
        let text = text.unwrap_or_default();
        let bytes = text.as_bytes();
        let at = skip_space(bytes, 0);
        let at = (bytes.get(at) == Some(&b'['))
            .then(|| skip_space(bytes, at + 1))
            .filter(|&at| bytes.get(at) != Some(&b']'));
        Items { text, at }
    }
}

impl<'a> Iterator for Items<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let bytes = self.text.as_bytes();
        let start = self.at.take()?;
        let end = value_end(bytes, start)?;
        let at = skip_space(bytes, end);
        if bytes.get(at) == Some(&b',') {
            self.at = Some(skip_space(bytes, at + 1));
        }
        Some(&self.text[start..end])
    }
}

fn skip_space(bytes: &[u8], mut at: usize) -> usize {
    while bytes
        .get(at)
        .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        at += 1;
    }
    at
}

/// Where the string starting at `at` (its opening quote) ends: just past its closing quote.
fn string_end(bytes: &[u8], mut at: usize) -> Option<usize> {
    at += 1;
    loop {
        at += memchr::memchr2(b'"', b'\\', bytes.get(at..)?)?;
        if bytes[at] == b'"' {
            return Some(at + 1);
        }
        at += 2;
    }
}

/// Where the value starting at `at` ends.
fn value_end(bytes: &[u8], at: usize) -> Option<usize> {
    match bytes.get(at)? {
        b'"' => string_end(bytes, at),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = at;
            loop {
                match bytes.get(i)? {
                    b'"' => {
                        i = string_end(bytes, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            let mut i = at;
            while bytes
                .get(i)
                .is_some_and(|b| !matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
            {
                i += 1;
            }
            (i > at).then_some(i)
        }
    }
}

/// What is between the quotes of `json`, the text of a valid JSON value, when it is a string
/// without escapes: that text is the string itself. `None` for any other value, and for a
/// string with escapes, which has to be decoded.
fn plain_string(json: &str) -> Option<&str> {
    let inner = json.strip_prefix('"')?.strip_suffix('"')?;
    // Most strings are short: a plain loop finds a backslash sooner than a search set up for
    // long texts.
    (!inner.bytes().any(|b| b == b'\\')).then_some(inner)
}
