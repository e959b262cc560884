//! Reading models out of result rows for the page loaders (`loaders::top_per_parent`).
//!
//! sea-orm's derived `FromQueryResult` finds each column by name and reads a nullable column
//! through `Option<T>`, whose `NULL` case formats the column's name into an error string and then
//! drops it. On a page of attempts (ten nullable columns, most of them `NULL`) that formatting
//! was 8.6% of a FullLearnerView's instructions under callgrind. The tables pages list most are
//! read here by position instead (the statement selects `Column::iter()`, which is the order of
//! the model's fields), with `NULL` checked on the raw value first; the others by name as before.
//! `tests/api/conformance.rs` compares both readings on stored rows.

use entity::{
    access_log, attempt, chat_message, cognitive_metric_record, event, journal_entry, journal_follow_up,
    meditation_reflection, mentor_selection, profiling_response, session,
};
use sea_orm::sqlx::{Row, ValueRef};
use sea_orm::{DbErr, EntityTrait, FromQueryResult, QueryResult, TryGetable};

/// How a loader reads `Self::Model` from a row that holds `Self::Column::iter()` in order: by
/// name, as sea-orm derives it, unless the table is listed in `by_position!`.
pub trait Decode: EntityTrait {
    fn decode(row: &QueryResult) -> Result<Self::Model, DbErr> {
        Self::Model::from_query_result(row, "")
    }
}

/// Whether column `index` of `row` is `NULL`, read from the driver's raw value.
fn is_null(row: &QueryResult, index: usize) -> Result<bool, DbErr> {
    let null = if let Some(row) = row.try_as_pg_row() {
        row.try_get_raw(index).map(|v| v.is_null())
    } else if let Some(row) = row.try_as_sqlite_row() {
        row.try_get_raw(index).map(|v| v.is_null())
    } else {
        Ok(false)
    };
    null.map_err(|e| DbErr::Type(format!("column {index}: {e}")))
}

/// Column `index`, which may be `NULL`.
pub fn nullable<T: TryGetable>(row: &QueryResult, index: usize) -> Result<Option<T>, DbErr> {
    if is_null(row, index)? { Ok(None) } else { row.try_get_by_index::<T>(index).map(Some) }
}

/// Column `index`, which is never `NULL`.
pub fn required<T: TryGetable>(row: &QueryResult, index: usize) -> Result<T, DbErr> {
    row.try_get_by_index::<T>(index)
}

/// `Decode` by position for `$module::Model`, whose fields are listed in declaration order; a
/// field marked `: null` is an `Option`.
macro_rules! by_position {
    ($($module:ident { $($field:ident $(: $null:ident)?),+ $(,)? })*) => {$(
        impl Decode for $module::Entity {
            fn decode(row: &QueryResult) -> Result<$module::Model, DbErr> {
                let mut index = 0usize;
                let mut next = || {
                    index += 1;
                    index - 1
                };
                Ok($module::Model { $($field: by_position!(@read row, next(), $($null)?)),+ })
            }
        }
    )*};
    (@read $row:ident, $index:expr, null) => { nullable($row, $index)? };
    (@read $row:ident, $index:expr, ) => { required($row, $index)? };
}

by_position! {
    attempt {
        id, learner_id, session_id: null, goal_id: null, exercise_id, activity_type: null, objective_id: null,
        is_correct, score: null, user_answer: null, response_time_ms: null, details: null, occurred_at, local_date,
        created_at, idempotency_key: null, completed: null,
    }
    session { id, learner_id, kind, started_at, ended_at: null, total_exercises, correct_answers, created_at }
    journal_entry {
        id, learner_id, content, mood_tags, source, embedding: null, created_at, updated_at, idempotency_key: null,
    }
}

impl Decode for event::Entity {}
impl Decode for meditation_reflection::Entity {}
impl Decode for access_log::Entity {}
impl Decode for journal_follow_up::Entity {}
impl Decode for chat_message::Entity {}
impl Decode for mentor_selection::Entity {}
impl Decode for cognitive_metric_record::Entity {}
impl Decode for profiling_response::Entity {}
