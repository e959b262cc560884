//! Input rules shared by the mutations: lengths, time zones, JSON sizes, times.

use chrono::{DateTime, Datelike, TimeDelta, Utc};
use chrono_tz::Tz;

use crate::error::ApiError;

pub const MAX_EXTERNAL_ID_CHARS: usize = 128;
pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_TEXT_CHARS: usize = 10_000;
pub const MAX_KEY_CHARS: usize = 128;
/// How far in the future a client-supplied `occurredAt` may be (clock skew).
pub const MAX_FUTURE_SKEW: TimeDelta = TimeDelta::minutes(5);

/// A required identifier-like string: trimmed, 1..=max characters, no control characters.
pub fn key(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(ApiError::bad_input(field, "must not be empty"));
    }
    if trimmed.chars().count() > max {
        return Err(ApiError::bad_input(field, format!("must be at most {max} characters")));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(ApiError::bad_input(field, "must not contain control characters"));
    }
    Ok(trimmed.to_owned())
}

/// A string a query looks something up by (an externalId, a kind, an exerciseId): it is compared,
/// never stored, but a NUL would make PostgreSQL fail where SQLite finds nothing.
pub fn lookup(field: &str, value: String) -> Result<String, ApiError> {
    if value.contains('\0') || value.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::bad_input(field, "is not a valid key"));
    }
    Ok(value)
}

/// Free text: at most `max` characters, and no NUL (PostgreSQL cannot store it in text, SQLite
/// can; refusing it everywhere keeps the engines alike).
pub fn text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    if value.chars().count() > max {
        return Err(ApiError::bad_input(field, format!("must be at most {max} characters")));
    }
    if value.contains('\0') {
        return Err(ApiError::bad_input(field, "must not contain NUL characters"));
    }
    Ok(value.to_owned())
}

pub fn time_zone(field: &str, value: &str) -> Result<Tz, ApiError> {
    value.parse::<Tz>().map_err(|_| ApiError::bad_input(field, format!("`{value}` is not an IANA time zone name")))
}

/// A JSON value no larger than `max_bytes` once serialized, with no NUL in any string (PostgreSQL's
/// jsonb cannot hold `\u0000`).
pub fn json_size(field: &str, value: &serde_json::Value, max_bytes: usize) -> Result<(), ApiError> {
    let text = serde_json::to_string(value).map_err(|_| ApiError::Internal)?;
    if text.len() > max_bytes {
        return Err(ApiError::bad_input(field, format!("is {} bytes; the limit is {max_bytes}", text.len())));
    }
    if has_nul(value) {
        return Err(ApiError::bad_input(field, "must not contain NUL characters"));
    }
    Ok(())
}

fn has_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(has_nul),
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// An instant a client names (a time of occurrence or a filter bound): within 1970..=9999, where
/// both engines store and compare instants the same way, truncated to microseconds as stored.
pub fn instant(field: &str, at: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
    let year = at.year();
    if !(1970..=9999).contains(&year) {
        return Err(ApiError::bad_input(field, "must be between the years 1970 and 9999"));
    }
    Ok(crate::clock::truncate_micros(at))
}

/// A client-supplied time of occurrence: not more than a few minutes ahead of `now`.
pub fn occurred_at(value: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
    occurred_at_field("occurredAt", value, now)
}

/// `occurred_at` for a field with another name (`startedAt`, `endedAt`).
pub fn occurred_at_field(
    field: &str,
    value: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, ApiError> {
    match value {
        None => Ok(now),
        Some(at) if at > now + MAX_FUTURE_SKEW => {
            Err(ApiError::bad_input(field, "is more than 5 minutes in the future"))
        }
        Some(at) => instant(field, at),
    }
}

/// `first` of a connection: 1..=100, never clamped.
pub fn page_size(first: Option<i32>, default: i32) -> Result<u64, ApiError> {
    let first = first.unwrap_or(default);
    if !(1..=100).contains(&first) {
        return Err(ApiError::bad_input("first", "must be between 1 and 100"));
    }
    Ok(first as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_trimmed_and_bounded() {
        assert_eq!(key("externalId", "  user_7 ", 128).unwrap(), "user_7");
        assert!(key("externalId", "   ", 128).is_err());
        assert!(key("externalId", &"x".repeat(129), 128).is_err());
        assert!(key("externalId", "a\u{0}b", 128).is_err());
    }

    #[test]
    fn nul_is_refused_in_text_and_json() {
        assert!(text("bio", "a\0b", 100).is_err());
        assert!(json_size("payload", &serde_json::json!({ "k": "a\u{0}b" }), 1000).is_err());
        assert!(
            json_size("payload", &serde_json::json!({ "k": "a\\u0000b" }), 1000).is_ok(),
            "an escaped backslash is not NUL"
        );
    }

    #[test]
    fn time_zones_must_be_iana_names() {
        assert!(time_zone("timeZone", "Pacific/Auckland").is_ok());
        assert!(time_zone("timeZone", "Mars/Olympus").is_err());
    }

    #[test]
    fn instants_stay_in_the_range_both_engines_order_alike() {
        let now = Utc::now();
        assert!(occurred_at(Some("1969-12-31T23:59:59Z".parse().unwrap()), now).is_err());
        assert!(occurred_at(Some(now + TimeDelta::minutes(6)), now).is_err());
        assert!(occurred_at(Some(now + TimeDelta::minutes(4)), now).is_ok());
        assert_eq!(occurred_at(None, now).unwrap(), now);
    }

    #[test]
    fn page_size_is_not_clamped() {
        assert_eq!(page_size(None, 20).unwrap(), 20);
        assert!(page_size(Some(0), 20).is_err());
        assert!(page_size(Some(101), 20).is_err());
        assert_eq!(page_size(Some(100), 20).unwrap(), 100);
    }
}
