//! Bearer tokens -> `Viewer` (who is asking), and the one scope check every learner-owned read
//! and write goes through.

use std::time::{SystemTime, UNIX_EPOCH};

use entity::learner;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::Role;
use crate::error::ApiError;

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Viewer {
    /// No secret configured: development mode, everything is allowed.
    Open,
    /// Auth is on and the request carried no token.
    Anonymous,
    Learner {
        external_id: String,
    },
    Staff {
        sub: String,
    },
    Service {
        sub: String,
    },
}

impl Viewer {
    /// Who is asking, for records of who did what (`staff:alice`, `open`).
    pub fn name(&self) -> String {
        match self {
            Viewer::Open => "open".to_owned(),
            Viewer::Anonymous => "anonymous".to_owned(),
            Viewer::Learner { external_id } => format!("learner:{external_id}"),
            Viewer::Staff { sub } => format!("staff:{sub}"),
            Viewer::Service { sub } => format!("service:{sub}"),
        }
    }

    /// Staff, services and open mode reach every learner.
    pub fn is_privileged(&self) -> bool {
        matches!(self, Viewer::Open | Viewer::Staff { .. } | Viewer::Service { .. })
    }

    pub fn is_staff(&self) -> bool {
        matches!(self, Viewer::Open | Viewer::Staff { .. })
    }

    /// The scope check. A learner asking for another learner gets FORBIDDEN whether that learner
    /// exists or not, so learner tokens cannot probe for other learners; privileged viewers get
    /// NOT_FOUND for a missing one.
    pub fn authorize(&self, learner: Option<learner::Model>) -> Result<learner::Model, ApiError> {
        match (self, learner) {
            (Viewer::Anonymous, _) => Err(ApiError::Unauthenticated("a bearer token is required".into())),
            (Viewer::Learner { external_id }, Some(l)) if &l.external_id == external_id => Ok(l),
            (Viewer::Learner { .. }, _) => Err(ApiError::Forbidden),
            (_, Some(l)) => Ok(l),
            (_, None) => Err(ApiError::NotFound("learner".into())),
        }
    }

    /// May this viewer create or fetch the learner with this externalId?
    pub fn may_ensure(&self, external_id: &str) -> Result<(), ApiError> {
        match self {
            Viewer::Anonymous => Err(ApiError::Unauthenticated("a bearer token is required".into())),
            Viewer::Learner { external_id: own } if own != external_id => Err(ApiError::Forbidden),
            _ => Ok(()),
        }
    }

    /// Staff, services and open mode: writers of the shared catalogs.
    pub fn require_privileged(&self) -> Result<(), ApiError> {
        match self {
            Viewer::Anonymous => Err(ApiError::Unauthenticated("a bearer token is required".into())),
            v if v.is_privileged() => Ok(()),
            _ => Err(ApiError::Forbidden),
        }
    }

    /// Any viewer with a token (or open mode): readers of the shared catalogs.
    pub fn require_token(&self) -> Result<(), ApiError> {
        match self {
            Viewer::Anonymous => Err(ApiError::Unauthenticated("a bearer token is required".into())),
            _ => Ok(()),
        }
    }

    pub fn require_staff(&self) -> Result<(), ApiError> {
        match self {
            Viewer::Anonymous => Err(ApiError::Unauthenticated("a bearer token is required".into())),
            v if v.is_staff() => Ok(()),
            _ => Err(ApiError::Forbidden),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    pub iat: u64,
    pub exp: u64,
}

/// Verifies and mints HS256 tokens. `None` secret means open development mode.
#[derive(Clone)]
pub struct Auth {
    keys: Option<(EncodingKey, DecodingKey)>,
}

impl Auth {
    pub fn new(secret: Option<&str>) -> Self {
        Auth { keys: secret.map(|s| (EncodingKey::from_secret(s.as_bytes()), DecodingKey::from_secret(s.as_bytes()))) }
    }

    pub fn is_open(&self) -> bool {
        self.keys.is_none()
    }

    /// The viewer for an `Authorization` header value (or its absence). Expired tokens, tokens
    /// signed with another key and any algorithm but HS256 (including `none`) are rejected.
    pub fn viewer(&self, authorization: Option<&str>) -> Result<Viewer, ApiError> {
        self.viewer_until(authorization).map(|(viewer, _)| viewer)
    }

    /// `viewer`, with the token's expiry (seconds since the Unix epoch; `None` without a token):
    /// a WebSocket connection closes when its token expires.
    pub fn viewer_until(&self, authorization: Option<&str>) -> Result<(Viewer, Option<u64>), ApiError> {
        let Some((_, decoding)) = &self.keys else {
            return Ok((Viewer::Open, None));
        };
        let Some(header) = authorization else {
            return Ok((Viewer::Anonymous, None));
        };
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| ApiError::Unauthenticated("expected `Authorization: Bearer <token>`".into()))?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 30;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token.trim(), decoding, &validation)
            .map_err(|e| ApiError::Unauthenticated(format!("invalid token ({})", token_error_kind(&e))))?;
        let sub = data.claims.sub;
        if sub.is_empty() || sub.chars().any(char::is_control) {
            return Err(ApiError::Unauthenticated("invalid token (bad subject)".into()));
        }
        let viewer = match data.claims.role {
            Role::Learner => Viewer::Learner { external_id: sub },
            Role::Staff => Viewer::Staff { sub },
            Role::Service => Viewer::Service { sub },
        };
        Ok((viewer, Some(data.claims.exp)))
    }

    /// Mints a token; `None` in open mode, where no secret exists to sign with.
    pub fn mint(&self, sub: &str, role: Role, ttl_seconds: u64) -> Option<String> {
        let (encoding, _) = self.keys.as_ref()?;
        let iat = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let claims = Claims { sub: sub.to_owned(), role, iat, exp: iat + ttl_seconds };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, encoding).ok()
    }
}

/// A short reason that tells the client what to fix without echoing the token.
fn token_error_kind(err: &jsonwebtoken::errors::Error) -> &'static str {
    use jsonwebtoken::errors::ErrorKind;
    match err.kind() {
        ErrorKind::ExpiredSignature => "expired",
        ErrorKind::InvalidSignature => "bad signature",
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => "algorithm not allowed",
        ErrorKind::MissingRequiredClaim(_) => "missing claim",
        _ => "malformed",
    }
}
