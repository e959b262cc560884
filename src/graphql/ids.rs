//! Opaque global ids (`Node.id`) and keyset cursors. Both are base64url text so that clients treat
//! them as opaque; both are validated strictly on the way in (garbage is BAD_USER_INPUT).

use async_graphql::ID;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sea_orm::prelude::Uuid;

use crate::error::{ApiError, ApiResult};

pub use super::node::Kind;

pub fn encode(kind: Kind, id: Uuid) -> ID {
    ID(URL_SAFE_NO_PAD.encode(plain(kind, id, &mut [0u8; 96])))
}

/// Appends `encode(kind, id)` to `out`, without a `String` between.
pub fn write(out: &mut Vec<u8>, kind: Kind, id: Uuid) {
    let mut buffer = [0u8; 96];
    let text = plain(kind, id, &mut buffer);
    let start = out.len();
    // Four characters for each three bytes, the last group unpadded.
    out.resize(start + text.len().div_ceil(3) * 4, 0);
    match URL_SAFE_NO_PAD.encode_slice(&text, &mut out[start..]) {
        Ok(n) => out.truncate(start + n),
        Err(_) => {
            out.truncate(start);
            out.extend_from_slice(URL_SAFE_NO_PAD.encode(&text).as_bytes());
        }
    }
}

/// `Tag:` and the UUID's 32 hex digits, assembled in `buffer`: this runs for every node of every
/// page, and `format!` cost as much again as the base64 encoding.
fn plain(kind: Kind, id: Uuid, buffer: &mut [u8; 96]) -> std::borrow::Cow<'_, [u8]> {
    let tag = kind.tag().as_bytes();
    let n = tag.len();
    if n + 33 > buffer.len() {
        return format!("{}:{}", kind.tag(), id.simple()).into_bytes().into();
    }
    buffer[..n].copy_from_slice(tag);
    buffer[n] = b':';
    id.simple().encode_lower(&mut buffer[n + 1..n + 33]);
    (&buffer[..n + 33]).into()
}

/// Decodes any global id into its kind and UUID.
pub fn decode_any(field: &str, id: &ID) -> ApiResult<(Kind, Uuid)> {
    let bad = || ApiError::bad_input(field, "is not a valid id");
    let bytes = URL_SAFE_NO_PAD.decode(id.as_str().as_bytes()).map_err(|_| bad())?;
    let text = std::str::from_utf8(&bytes).map_err(|_| bad())?;
    let (tag, uuid) = text.split_once(':').ok_or_else(bad)?;
    let kind = Kind::ALL.iter().copied().find(|k| k.tag() == tag).ok_or_else(bad)?;
    let uuid = Uuid::try_parse(uuid).map_err(|_| bad())?;
    Ok((kind, uuid))
}

/// Decodes a global id that must be of `kind` (a goal id where a learner id is expected is bad input).
pub fn decode(field: &str, id: &ID, kind: Kind) -> ApiResult<Uuid> {
    match decode_any(field, id)? {
        (k, uuid) if k == kind => Ok(uuid),
        _ => Err(ApiError::bad_input(field, format!("is not a {} id", kind.tag()))),
    }
}

/// Position in a list ordered newest first by (time, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        use std::io::Write;
        // At most 20 characters of microseconds, a colon and 32 hex digits, on the stack.
        let mut text = [0u8; 64];
        let mut out = std::io::Cursor::new(&mut text[..]);
        let written = write!(out, "{}:", self.at.timestamp_micros()).map(|()| out.position() as usize);
        let Ok(n) = written else {
            return URL_SAFE_NO_PAD.encode(format!("{}:{}", self.at.timestamp_micros(), self.id.simple()));
        };
        self.id.simple().encode_lower(&mut text[n..n + 32]);
        URL_SAFE_NO_PAD.encode(&text[..n + 32])
    }

    pub fn decode(text: &str) -> ApiResult<Self> {
        let bad = || ApiError::bad_input("after", "is not a valid cursor");
        let bytes = URL_SAFE_NO_PAD.decode(text.as_bytes()).map_err(|_| bad())?;
        let text = std::str::from_utf8(&bytes).map_err(|_| bad())?;
        let (micros, id) = text.split_once(':').ok_or_else(bad)?;
        let at = DateTime::from_timestamp_micros(micros.parse().map_err(|_| bad())?).ok_or_else(bad)?;
        Ok(Cursor { at, id: Uuid::try_parse(id).map_err(|_| bad())? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_keep_their_kind() {
        let uuid = Uuid::new_v4();
        let id = encode(Kind::Goal, uuid);
        assert_eq!(decode("id", &id, Kind::Goal).unwrap(), uuid);
        assert!(decode("id", &id, Kind::Learner).is_err());
        assert!(decode_any("id", &ID("garbage!".into())).is_err());
        assert!(decode_any("id", &ID(URL_SAFE_NO_PAD.encode("Learner:nope"))).is_err());
    }

    /// The encoders assemble their text by hand; clients hold ids and cursors made by `format!`,
    /// so the two must agree byte for byte.
    #[test]
    fn ids_and_cursors_are_the_text_format_made() {
        let uuid = Uuid::new_v4();
        for kind in Kind::ALL.iter().copied() {
            assert_eq!(encode(kind, uuid).0, URL_SAFE_NO_PAD.encode(format!("{}:{}", kind.tag(), uuid.simple())));
        }
        for micros in [0, 1, -1, 1_764_876_543_210_987, i64::MAX / 1000, -62_135_596_800_000_000] {
            let at = DateTime::from_timestamp_micros(micros).unwrap();
            let cursor = Cursor { at, id: uuid };
            let made = URL_SAFE_NO_PAD.encode(format!("{}:{}", at.timestamp_micros(), uuid.simple()));
            assert_eq!(cursor.encode(), made, "{micros}");
        }
    }

    #[test]
    fn cursors_round_trip() {
        let c = Cursor { at: Utc::now(), id: Uuid::new_v4() };
        let back = Cursor::decode(&c.encode()).unwrap();
        assert_eq!(back.id, c.id);
        assert_eq!(back.at.timestamp_micros(), c.at.timestamp_micros());
        assert!(Cursor::decode("%%%").is_err());
    }
}
