//! Fresh identifiers, tokens and timestamps: the server's only sources of randomness and time.

use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

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
    let hex = random_hex(16)?;
    let variant = ["8", "9", "a", "b"][usize::from_str_radix(&hex[16..17], 16).unwrap_or(0) % 4];
    Ok(format!(
        "{}-{}-4{}-{}{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[13..16],
        variant,
        &hex[17..20],
        &hex[20..32]
    ))
}

/// A new bearer token: 256 random bits.
pub fn token() -> Result<SecretString, ServerError> {
    Ok(SecretString::from(random_hex(32)?))
}

/// The current time as an RFC 3339 UTC timestamp with milliseconds (RFC 7643 `dateTime`).
#[must_use]
pub fn now() -> String {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format_timestamp(
        i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        since.subsec_millis(),
    )
}

fn format_timestamp(secs: i64, millis: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_timestamps() {
        assert_eq!(format_timestamp(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_timestamp(1_709_210_096, 7),
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
