//! Masking of literal tokens in the text that error messages quote.
//!
//! A config should never hold a literal token (validation rejects one), but when it does, no
//! error snippet may print it (§7). Error snippets quote whole lines around the offending text,
//! so the masking is textual and runs before parsing: it works even when the file does not
//! parse.

use std::borrow::Cow;

/// Replaces the value of every `token: VALUE` pair whose value is not a `${VAR}` reference
/// with asterisks of the same byte length, so that offsets into the text stay valid. A text
/// without a `token:` key is returned as it is.
#[must_use]
pub fn mask_tokens(text: &str) -> Cow<'_, str> {
    if !text.contains("token:") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let start = out.len();
        out.push_str(line);
        if line.contains("token:") {
            mask_line(line, &mut out, start);
        }
    }
    Cow::Owned(out)
}

/// Masks the literal tokens of `line`, copied into `out` at `start`.
fn mask_line(line: &str, out: &mut String, start: usize) {
    let mut search_from = 0;
    while let Some(found) = line[search_from..].find("token:") {
        let key_start = search_from + found;
        search_from = key_start + "token:".len();
        // Only a whole key: `token:`, not `my_token:` nor `token_file:`.
        let before = line[..key_start].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-') {
            continue;
        }
        let rest = &line[search_from..];
        let value_start = search_from + (rest.len() - rest.trim_start_matches([' ', '\t']).len());
        let value = &line[value_start..];
        if is_reference(value.trim_start_matches(['"', '\''])) {
            continue;
        }
        let end = value
            .find(" #")
            .or_else(|| value.find([',', '}', '\r', '\n']))
            .unwrap_or(value.len());
        let value = value[..end].trim_end();
        if value.is_empty() {
            continue;
        }
        let at = start + value_start;
        out.replace_range(at..at + value.len(), &"*".repeat(value.len()));
    }
}

/// A value that starts with a `${VAR}` reference is not a literal token. (One that goes on
/// with literal text is rejected by validation all the same, but is not a whole secret.)
fn is_reference(value: &str) -> bool {
    value.starts_with("${")
}

#[cfg(test)]
mod tests {
    use super::mask_tokens;

    #[test]
    fn masks_literal_tokens_only() {
        let text = "a:\n  token: s3cr3t # why\n  token_file: t\n  b: { token: \"x1\", c: 1 }\n  token: ${T}\n  c: { token: ${U}, d: 2 }\n";
        assert_eq!(
            mask_tokens(text),
            "a:\n  token: ****** # why\n  token_file: t\n  b: { token: ****, c: 1 }\n  token: ${T}\n  c: { token: ${U}, d: 2 }\n"
        );
    }

    #[test]
    fn keeps_byte_length() {
        let text = "token: pässwörd\n";
        assert_eq!(mask_tokens(text).len(), text.len());
    }
}
