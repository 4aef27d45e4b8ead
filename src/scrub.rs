//! The last line of defence against a token in output (README, Secrets in output). Errors redact
//! the token where they are made, but a server can put it anywhere it sends text: a userName, an
//! id, a listing's detail. So every token resolved in this process is remembered here, and all that
//! the commands print goes through [`scrub`], which writes `[redacted]` in place of each.

use std::borrow::Cow;
use std::sync::{Mutex, PoisonError};

use secrecy::{ExposeSecret, SecretString};

/// The tokens resolved so far.
static SECRETS: Mutex<Vec<SecretString>> = Mutex::new(Vec::new());

/// Tokens shorter than this are not scrubbed: replacing every `ab` in the output would make it
/// unreadable, and a token that short is no secret worth the name.
const SHORTEST: usize = 8;

/// Remembers `token`, so that [`scrub`] hides it from then on.
pub fn remember(token: &SecretString) {
    let text = token.expose_secret();
    if text.len() < SHORTEST {
        return;
    }
    let mut secrets = SECRETS.lock().unwrap_or_else(PoisonError::into_inner);
    if !secrets.iter().any(|s| s.expose_secret() == text) {
        secrets.push(token.clone());
    }
}

/// `text` with every remembered token replaced by `[redacted]`.
#[must_use]
pub fn scrub(text: &str) -> Cow<'_, str> {
    let secrets = SECRETS.lock().unwrap_or_else(PoisonError::into_inner);
    let mut text = Cow::Borrowed(text);
    for secret in secrets.iter() {
        let secret = secret.expose_secret();
        if text.contains(secret) {
            text = Cow::Owned(text.replace(secret, "[redacted]"));
        }
    }
    text
}

/// A writer that scrubs what it is given, line by line as it comes, before passing it on:
/// for the request log.
pub struct Scrubbed<W>(pub W);

impl<W: std::io::Write> std::io::Write for Scrubbed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(text) => self.0.write_all(scrub(text).as_bytes())?,
            Err(_) => self.0.write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_tokens_are_scrubbed_and_short_ones_left() {
        remember(&SecretString::from("s3cr3t-t0ken-for-scrub-test"));
        remember(&SecretString::from("short"));
        assert_eq!(
            scrub("user s3cr3t-t0ken-for-scrub-test listed twice; short"),
            "user [redacted] listed twice; short"
        );
        assert!(matches!(scrub("nothing here"), Cow::Borrowed(_)));
        let mut out = Vec::new();
        std::io::Write::write_all(
            &mut Scrubbed(&mut out),
            b"GET s3cr3t-t0ken-for-scrub-test\n",
        )
        .unwrap();
        assert_eq!(out, b"GET [redacted]\n");
    }
}
