//! The one error type a client can cause, with its stable `extensions.code`.
//!
//! `ApiError` deliberately does not implement `Display`: async-graphql converts anything that is
//! `Display` into an error carrying its message, which is how database text leaks to clients.
//! Without `Display`, the only way into a GraphQL error is the `From` impl below, which always
//! sets a code and never forwards an internal cause.

use async_graphql::ErrorExtensions;
use sea_orm::DbErr;

/// What went wrong, as a client may see it.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// Input that breaks a documented rule; nothing was changed.
    BadInput { field: String, reason: String },
    /// The thing named does not exist (or was erased).
    NotFound(String),
    /// No valid credentials for a request that needs them.
    Unauthenticated(String),
    /// Valid credentials that do not reach this data.
    Forbidden,
    /// A stale version or a duplicate key.
    Conflict(String),
    /// The answer would pass a documented size limit (the message says which, and what to use).
    TooLarge(String),
    /// A subscription's `after` cursor points before what the activity feed still keeps.
    CursorExpired(String),
    /// A subscriber fell further behind than the server buffers for it; it resumes with `after`.
    SlowSubscriber(String),
    /// A WebSocket connection already runs as many subscriptions as allowed.
    TooManySubscriptions(usize),
    /// Anything else; the cause is logged, never sent.
    Internal,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn bad_input(field: &str, reason: impl Into<String>) -> Self {
        ApiError::BadInput { field: field.to_owned(), reason: reason.into() }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadInput { .. } => "BAD_USER_INPUT",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::Unauthenticated(_) => "UNAUTHENTICATED",
            ApiError::Forbidden => "FORBIDDEN",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::TooLarge(_) => "TOO_LARGE",
            ApiError::CursorExpired(_) => "CURSOR_EXPIRED",
            ApiError::SlowSubscriber(_) => "SLOW_SUBSCRIBER",
            ApiError::TooManySubscriptions(_) => "TOO_MANY_SUBSCRIPTIONS",
            ApiError::Internal => "INTERNAL",
        }
    }

    pub fn message(&self) -> String {
        match self {
            ApiError::BadInput { field, reason } => format!("invalid `{field}`: {reason}"),
            ApiError::NotFound(what) => format!("{what} not found"),
            ApiError::Unauthenticated(why) => format!("unauthenticated: {why}"),
            ApiError::Forbidden => "not allowed for this viewer".to_owned(),
            ApiError::Conflict(why) => format!("conflict: {why}"),
            ApiError::TooLarge(why) => format!("too large: {why}"),
            ApiError::CursorExpired(why) | ApiError::SlowSubscriber(why) => why.clone(),
            ApiError::TooManySubscriptions(max) => {
                format!("this connection already runs {max} subscriptions, the most allowed; complete one first")
            }
            ApiError::Internal => "internal error".to_owned(),
        }
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(err: ApiError) -> Self {
        let mut gql = async_graphql::Error::new(err.message()).extend_with(|_, ext| ext.set("code", err.code()));
        if let ApiError::BadInput { field, .. } = &err {
            gql = gql.extend_with(|_, ext| ext.set("field", field.as_str()));
        }
        gql
    }
}

impl From<DbErr> for ApiError {
    fn from(err: DbErr) -> Self {
        // A foreign key that no longer resolves means a row named by the request was deleted by
        // a concurrent transaction (an erased learner, a reset session) after it was checked.
        if let Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_)) = err.sql_err() {
            tracing::info!(error = %err, "referenced row vanished during the write");
            return ApiError::NotFound("a referenced record".into());
        }
        tracing::error!(error = %err, "database error");
        ApiError::Internal
    }
}

/// Errors raised by async-graphql itself inside a resolver (a missing context value): a bug on
/// our side, never the client's.
impl From<async_graphql::Error> for ApiError {
    fn from(err: async_graphql::Error) -> Self {
        tracing::error!(error = %err.message, "resolver context error");
        ApiError::Internal
    }
}

/// True when a database error is a unique-constraint violation (a lost insert race).
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_)))
}
