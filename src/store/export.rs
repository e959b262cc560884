//! Export: everything stored about one learner as one JSON document, written row by row so that
//! memory stays flat however much a learner has (the CLI streams it to a file; the GraphQL field
//! builds it under a size limit).
//!
//! The document:
//!
//! ```json
//! { "formatVersion": 1, "exportedAt": "…", "learner": { …the learner row… },
//!   "tables": { "goals": [ {…}, … ], "attempts": [ … ], …, "access_log": [ … ] } }
//! ```
//!
//! `tables` has one key per table of `registry::LEARNER_TABLES` (every table with a `learner_id`
//! column; a test reads the database catalog to hold that), each row with its stored columns under
//! their column names, ordered by primary key. The rows are read in one read-only transaction
//! (REPEATABLE READ on PostgreSQL, a WAL snapshot on SQLite), so the document is consistent.

use std::io::Write;

use chrono::{DateTime, Utc};
use entity::*;
use futures_util::TryStreamExt;
use sea_orm::prelude::Uuid;
use sea_orm::{
    AccessMode, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, IsolationLevel, Iterable,
    PrimaryKeyToColumn, QueryFilter, QueryOrder, StreamTrait, TransactionTrait,
};
use serde::Serialize;

use super::registry::LEARNER_TABLES;
use crate::error::{ApiError, ApiResult};

/// The version of the document's shape; raised when a reader would need to change.
pub const FORMAT_VERSION: u32 = 1;

/// What was written, for the CLI's summary line.
#[derive(Debug, Default)]
pub struct Written {
    pub rows: u64,
    pub bytes: u64,
}

/// Writes the export of `learner` to `out`. `NotFound` if there is no such learner. An error of
/// `out` (a full disk, the GraphQL size limit) ends the export with `TooLarge` when `out` says so,
/// else `Internal`.
pub async fn write<W: Write>(db: &DatabaseConnection, learner: Uuid, now: DateTime<Utc>, out: W) -> ApiResult<Written> {
    let txn = match db.get_database_backend() {
        DbBackend::Postgres => {
            db.begin_with_config(Some(IsolationLevel::RepeatableRead), Some(AccessMode::ReadOnly)).await?
        }
        _ => db.begin().await?,
    };
    let row = learner::Entity::find_by_id(learner).one(&txn).await?.ok_or(ApiError::NotFound("learner".into()))?;
    let mut doc = Doc { out: Counting { inner: out, bytes: 0 }, rows: 0 };
    doc.raw(b"{\"formatVersion\":")?;
    doc.value(&FORMAT_VERSION)?;
    doc.raw(b",\"exportedAt\":")?;
    doc.value(&now)?;
    doc.raw(b",\"learner\":")?;
    doc.value(&row)?;
    doc.raw(b",\"tables\":{")?;
    // Parents before children, the order a reader rebuilding the data needs.
    for (i, table) in LEARNER_TABLES.iter().rev().enumerate() {
        if i > 0 {
            doc.raw(b",")?;
        }
        doc.value(&table.name)?;
        doc.raw(b":[")?;
        write_table(&txn, table.name, learner, &mut doc).await?;
        doc.raw(b"\n]")?;
    }
    doc.raw(b"}}\n")?;
    doc.out.inner.flush().map_err(write_error)?;
    txn.commit().await?;
    Ok(Written { rows: doc.rows, bytes: doc.out.bytes })
}

/// Dispatches a table name to its entity. A name without an entity here fails the export (and its
/// test) rather than leaving the table out.
macro_rules! tables {
    ($($table:literal => $module:ident),* $(,)?) => {
        async fn write_table<C, W>(db: &C, table: &str, learner: Uuid, doc: &mut Doc<W>) -> ApiResult<()>
        where
            C: ConnectionTrait + StreamTrait,
            W: Write,
        {
            match table {
                $($table => rows::<$module::Entity, _, _>(db, $module::Column::LearnerId.eq(learner), doc).await,)*
                other => {
                    tracing::error!(table = other, "a learner table has no exporter");
                    Err(ApiError::Internal)
                }
            }
        }
    };
}

tables! {
    "goals" => goal,
    "goal_profile_versions" => goal_profile_version,
    "events" => event,
    "sessions" => session,
    "learner_progress" => learner_progress,
    "exercise_stats" => exercise_stat,
    "practice_days" => practice_day,
    "attempts" => attempt,
    "badges" => badge,
    "objective_progress" => objective_progress,
    "cognitive_metrics" => cognitive_metric,
    "cognitive_metric_records" => cognitive_metric_record,
    "struggles" => struggle,
    "interests" => interest,
    "preferences" => preference,
    "conversation_states" => conversation_state,
    "journal_corpora" => journal_corpus,
    "journal_entries" => journal_entry,
    "journal_mood_tags" => journal_mood_tag,
    "journal_follow_ups" => journal_follow_up,
    "meditation_reflections" => meditation_reflection,
    "mentor_selections" => mentor_selection,
    "chat_posts" => chat_post,
    "chat_messages" => chat_message,
    "profiling_sessions" => profiling_session,
    "portfolio_items" => portfolio_item,
    "profiling_outcomes" => profiling_outcome,
    "profiling_responses" => profiling_response,
    "profiling_answer_keys" => profiling_answer_key,
    "activity_heads" => activity_head,
    "activities" => activity,
    "access_log" => access_log,
}

/// Streams the rows of `E` matching `filter`, by primary key, one JSON object per line.
async fn rows<E, C, W>(db: &C, filter: sea_orm::sea_query::SimpleExpr, doc: &mut Doc<W>) -> ApiResult<()>
where
    E: EntityTrait,
    E::Model: Serialize + Sync,
    C: ConnectionTrait + StreamTrait,
    W: Write,
{
    let mut select = E::find().filter(filter);
    for key in E::PrimaryKey::iter() {
        select = select.order_by_asc(key.into_column());
    }
    let mut stream = select.stream(db).await?;
    let mut first = true;
    while let Some(row) = stream.try_next().await? {
        doc.raw(if first { b"\n" } else { b",\n" })?;
        first = false;
        doc.value(&row)?;
        doc.rows += 1;
    }
    Ok(())
}

/// The document being written.
struct Doc<W: Write> {
    out: Counting<W>,
    rows: u64,
}

impl<W: Write> Doc<W> {
    fn raw(&mut self, bytes: &[u8]) -> ApiResult<()> {
        self.out.write_all(bytes).map_err(write_error)
    }

    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> ApiResult<()> {
        serde_json::to_writer(&mut self.out, value).map_err(|e| match e.io_error_kind() {
            // serde_json hands back the writer's own error.
            Some(_) => write_error(std::io::Error::from(e)),
            None => {
                tracing::error!(error = %e, "a stored row does not serialize");
                ApiError::Internal
            }
        })
    }
}

/// Counts the bytes written through it.
struct Counting<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A `Vec` that refuses to grow past `limit` bytes: the GraphQL export's bound.
pub struct Bounded {
    pub buf: Vec<u8>,
    limit: usize,
}

impl Bounded {
    pub fn new(limit: usize) -> Self {
        Bounded { buf: Vec::new(), limit }
    }
}

/// The error `Bounded` gives when full; `write` turns it into `TooLarge`.
#[derive(Debug)]
struct Full(usize);

impl std::fmt::Display for Full {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the export is larger than {} bytes", self.0)
    }
}

impl std::error::Error for Full {}

impl Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + buf.len() > self.limit {
            return Err(std::io::Error::other(Full(self.limit)));
        }
        self.buf.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn write_error(e: std::io::Error) -> ApiError {
    if let Some(full) = e.get_ref().and_then(|inner| inner.downcast_ref::<Full>()) {
        return ApiError::TooLarge(format!(
            "{full}; raise LEARNGRAPH_MAX_EXPORT_BYTES or use `learngraph export`, which streams"
        ));
    }
    tracing::error!(error = %e, "writing the export failed");
    ApiError::Internal
}
