//! Fresh identifiers, tokens and timestamps: the server's only sources of randomness and time.

use std::fmt::Write;

use secrecy::SecretString;

use super::error::ServerError;

fn random_hex(bytes: usize) -> Result<String, ServerError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| ServerError::Random(e.to_string()))?;
    Ok(buf
        .iter()
        .fold(String::with_capacity(bytes * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        }))
}

/// A new resource id: 128 random bits as a UUID (RFC 9562 version 4), so ids are unguessable
/// and never reused (RFC 7643 §3.1).
pub fn resource_id() -> Result<String, ServerError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| ServerError::Random(e.to_string()))?;
    Ok(uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string())
}

/// A new bearer token: 256 random bits.
pub(crate) fn token() -> Result<SecretString, ServerError> {
    Ok(SecretString::from(random_hex(32)?))
}

/// The current time as an RFC 3339 UTC timestamp with milliseconds (RFC 7643 `dateTime`).
#[must_use]
pub fn now() -> String {
    format_timestamp(jiff::Timestamp::now())
}

fn format_timestamp(at: jiff::Timestamp) -> String {
    // Whole milliseconds, always three digits: what the store has always written, and what
    // compares in order as text.
    format!("{:.3}", at.round(jiff::Unit::Millisecond).unwrap_or(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_timestamps() {
        let at = |millis| jiff::Timestamp::from_millisecond(millis).unwrap();
        assert_eq!(format_timestamp(at(0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_timestamp(at(1_709_210_096_007)),
            "2024-02-29T12:34:56.007Z"
        );
    }

    #[test]
    fn ids_are_uuids() {
        let id = resource_id().unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
    }
}
