//! Token authentication: every request carries `Authorization: Bearer <token>` or
//! `Authorization: token <token>` (Tonkean's scheme); scheme names are case-insensitive
//! (RFC 9110 §11.1). The comparison takes the same time wherever the tokens first differ, so
//! response timing does not reveal a prefix of the token.

use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

/// Whether an `Authorization` header value carries the expected token.
#[must_use]
pub fn authorized(header: Option<&str>, expected: &SecretString) -> bool {
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

/// The `WWW-Authenticate` challenge of a 401 (RFC 6750 §3).
pub const CHALLENGE: &str = "Bearer realm=\"scimform\"";

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
}
