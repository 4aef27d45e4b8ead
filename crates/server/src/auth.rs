//! Token authentication: every request carries `Authorization: Bearer <token>` or
//! `Authorization: token <token>` (Tonkean's scheme); scheme names are case-insensitive
//! (RFC 9110 §11.1). The comparison takes the same time wherever the tokens first differ, so
//! response timing does not reveal a prefix of the token.

use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

/// Whether an `Authorization` header value carries the expected token.
#[must_use]
pub(crate) fn authorized(header: Option<&str>, expected: &SecretString) -> bool {
    let Some(header) = header else { return false };
    let Some((scheme, credentials)) = header.trim().split_once(char::is_whitespace) else {
        return false;
    };
    if !(scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token")) {
        return false;
    }
    let given = credentials.trim().as_bytes();
    let expected = expected.expose_secret().as_bytes();
    bool::from(given.ct_eq(expected))
}

/// The fewest characters a token may have: a guessable token would make the check above
/// worthless. Tokens `serve` makes itself have 64.
pub(crate) const MIN_TOKEN_LENGTH: usize = 16;

/// Why a token cannot protect the server: too short, or holding a character that cannot travel
/// in an `Authorization` header (anything but visible ASCII).
#[must_use]
pub fn weakness(token: &str) -> Option<String> {
    let length = token.chars().count();
    if length < MIN_TOKEN_LENGTH {
        let plural = if length == 1 { "" } else { "s" };
        return Some(format!("is {length} character{plural} long"));
    }
    token
        .chars()
        .find(|c| !c.is_ascii_graphic())
        .map(|c| format!("holds {c:?}, which is not visible ASCII"))
}

/// The `WWW-Authenticate` challenge of a 401 (RFC 6750 §3).
pub(crate) const CHALLENGE: &str = "Bearer realm=\"scimform\"";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_both_schemes_in_any_case() {
        let t = SecretString::from("s3cret");
        assert!(authorized(Some("Bearer s3cret"), &t));
        assert!(authorized(Some("token s3cret"), &t));
        assert!(authorized(Some("TOKEN  s3cret"), &t));
        assert!(!authorized(Some("Basic s3cret"), &t));
        assert!(!authorized(Some("Bearer s3cre"), &t));
        assert!(!authorized(Some("Bearer"), &t));
        assert!(!authorized(None, &t));
    }

    #[test]
    fn weak_tokens_are_named() {
        assert_eq!(weakness("t").as_deref(), Some("is 1 character long"));
        assert_eq!(
            weakness("0123456789abcde").as_deref(),
            Some("is 15 characters long")
        );
        assert!(weakness("0123456789abcdef").is_none());
        assert!(weakness("0123456789 abcdef").is_some());
        assert!(weakness("0123456789abcdéf").is_some());
    }
}
