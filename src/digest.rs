//! SHA-256 digests as plans write them: `sha256:<lowercase hex>`.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

/// `sha256:<lowercase hex>` of `bytes`.
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    sha256_hex_of_parts([bytes])
}

/// [`sha256_hex`] of the concatenation of `parts`, without making it.
#[must_use]
pub fn sha256_hex_of_parts<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    format_sha256(&hasher.finalize())
}

/// A SHA-256 digest written `sha256:<lowercase hex>`.
#[must_use]
pub fn format_sha256(digest: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(7 + 2 * digest.len());
    out.push_str("sha256:");
    for byte in digest {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// The digest of a whole config from the digests of its files, by file name: [`sha256_hex`]
/// of one line `<file name> <file digest>\n` per file, in name order.
#[must_use]
pub fn of_config_files(files: &BTreeMap<String, String>) -> String {
    sha256_hex_of_parts(files.iter().flat_map(|(name, digest)| {
        [
            name.as_bytes(),
            b" ".as_slice(),
            digest.as_bytes(),
            b"\n".as_slice(),
        ]
    }))
}
