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
    ID(URL_SAFE_NO_PAD.encode(format!("{}:{}", kind.tag(), id.simple())))
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
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.at.timestamp_micros(), self.id.simple()))
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

    #[test]
    fn cursors_round_trip() {
        let c = Cursor { at: Utc::now(), id: Uuid::new_v4() };
        let back = Cursor::decode(&c.encode()).unwrap();
        assert_eq!(back.id, c.id);
        assert_eq!(back.at.timestamp_micros(), c.at.timestamp_micros());
        assert!(Cursor::decode("%%%").is_err());
    }
}
