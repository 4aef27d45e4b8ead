//! SHA-256 digests as plans write them: `sha256:<lowercase hex>`.

use sha2::{Digest, Sha256};

/// `sha256:<lowercase hex>` of `bytes`.
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    sha256_hex_of_parts([bytes])
}

/// [`sha256_hex`] of the concatenation of `parts`, without making it.
#[must_use]
pub fn sha256_hex_of_parts<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    use std::fmt::Write as _;
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    let digest = hasher.finalize();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in &digest {
        let _ = write!(out, "{byte:02x}");
    }
    out
}
