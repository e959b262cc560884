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
    /// The database does not answer (down, unreachable, out of disk); retrying later may work.
    Unavailable,
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
            ApiError::Unavailable => SERVICE_UNAVAILABLE,
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
            ApiError::Unavailable => "the database is not answering; nothing was changed, retry shortly".to_owned(),
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
        if is_unavailable(&err) {
            tracing::warn!(error = %err, "database unavailable");
            return ApiError::Unavailable;
        }
        tracing::error!(error = %err, "database error");
        ApiError::Internal
    }
}

/// The code of `ApiError::Unavailable`; `http.rs` answers a response carrying it with 503.
pub const SERVICE_UNAVAILABLE: &str = "SERVICE_UNAVAILABLE";

/// True when `err` says the database cannot be reached or cannot take the work right now (rather
/// than that the statement is wrong): no connection within the timeout, a dropped or refused
/// connection, PostgreSQL shutting down or out of connections, SQLite busy past its timeout, out
/// of disk, or unable to read or write its file.
pub fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    use sea_orm::{RuntimeErr, SqlxPostgresError, SqlxSqliteError};
    let sqlx = match err {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => e,
        DbErr::Conn(_) => return true,
        _ => return false,
    };
    match sqlx.as_ref() {
        Sqlx::Io(_)
        | Sqlx::Tls(_)
        | Sqlx::Protocol(_)
        | Sqlx::PoolTimedOut
        | Sqlx::PoolClosed
        | Sqlx::WorkerCrashed => true,
        Sqlx::Database(db) => {
            if let Some(pg) = db.try_downcast_ref::<SqlxPostgresError>() {
                let code = pg.code();
                // 08: connection exceptions; 53: out of disk, memory or connections; 57P01-3: the
                // server is shutting down or starting.
                code.starts_with("08") || code.starts_with("53") || matches!(code, "57P01" | "57P02" | "57P03")
            } else if db.try_downcast_ref::<SqlxSqliteError>().is_some() {
                // The primary result code is the low byte of the extended one: BUSY, LOCKED,
                // READONLY, IOERR, FULL, CANTOPEN.
                let primary = db.code().and_then(|c| c.parse::<i32>().ok()).map(|c| c & 0xff);
                matches!(primary, Some(5 | 6 | 8 | 10 | 13 | 14))
            } else {
                false
            }
        }
        _ => false,
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
