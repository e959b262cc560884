//! The one list of learner data. Erasure and export walk it; a test reads the
//! database catalog and fails for any table that is neither here nor in `SHARED_TABLES`, so a new
//! table cannot be forgotten.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DatabaseTransaction};

use super::audit::Actor;
use crate::error::ApiResult;

/// How a table's rows reach their learner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The table has a `learner_id` column.
    LearnerId,
    /// Through a parent row: `column` names a row of `parent` (which reaches the learner itself).
    Parent { column: &'static str, parent: &'static str },
}

/// A table that holds a learner's data.
#[derive(Debug, Clone, Copy)]
pub struct LearnerTable {
    pub name: &'static str,
    pub reach: Reach,
}

const fn direct(name: &'static str) -> LearnerTable {
    LearnerTable { name, reach: Reach::LearnerId }
}

/// Every table with learner data, children before the parents they point at (the order erasure
/// deletes in). The `learners` row itself goes last.
pub const LEARNER_TABLES: &[LearnerTable] = &[
    direct("access_log"),
    direct("activities"),
    direct("activity_heads"),
    direct("profiling_answer_keys"),
    direct("profiling_responses"),
    direct("profiling_outcomes"),
    direct("portfolio_items"),
    direct("profiling_sessions"),
    direct("chat_messages"),
    direct("chat_posts"),
    direct("mentor_selections"),
    direct("meditation_reflections"),
    direct("journal_follow_ups"),
    direct("journal_mood_tags"),
    direct("journal_entries"),
    direct("journal_corpora"),
    direct("conversation_states"),
    direct("preferences"),
    direct("interests"),
    direct("struggles"),
    direct("cognitive_metric_records"),
    direct("cognitive_metrics"),
    direct("objective_progress"),
    direct("badges"),
    direct("attempts"),
    direct("practice_days"),
    direct("exercise_stats"),
    direct("learner_progress"),
    direct("sessions"),
    direct("events"),
    direct("goal_profile_versions"),
    direct("goals"),
];

/// The learners themselves: the root every learner table reaches.
pub const LEARNERS: &str = "learners";

/// Tables that hold no learner's data (shared catalogs, bookkeeping).
pub const SHARED_TABLES: &[&str] = &["seaql_migrations", "profiling_question_banks", "recipes", "recipe_skills"];

/// Deletes a learner and every row it owns, in the caller's transaction, and records the erasure
/// (who, when, the externalId's hash; see `audit::record_erasure`). Explicit deletes, children
/// first, rather than relying on ON DELETE CASCADE alone, so erasure does not depend on a pragma
/// being on. Returns the rows deleted from each of `LEARNER_TABLES`, in its order.
pub async fn erase(
    txn: &DatabaseTransaction,
    learner: &entity::learner::Model,
    by: &Actor,
    operation: &str,
    now: DateTime<Utc>,
) -> ApiResult<Vec<u64>> {
    let learner_id = learner.id;
    let mut deleted = Vec::with_capacity(LEARNER_TABLES.len());
    for table in LEARNER_TABLES {
        let mut delete = Query::delete();
        delete.from_table(Alias::new(table.name));
        match table.reach {
            Reach::LearnerId => {
                delete.and_where(Expr::col(Alias::new("learner_id")).eq(learner_id));
            }
            Reach::Parent { column, parent } => {
                let parents = Query::select()
                    .column(Alias::new("id"))
                    .from(Alias::new(parent))
                    .and_where(Expr::col(Alias::new("learner_id")).eq(learner_id))
                    .to_owned();
                delete.and_where(Expr::col(Alias::new(column)).in_subquery(parents));
            }
        }
        deleted.push(txn.execute(&delete).await?.rows_affected());
    }
    let mut delete = Query::delete();
    delete.from_table(Alias::new(LEARNERS)).and_where(Expr::col(Alias::new("id")).eq(learner_id));
    txn.execute(&delete).await?;
    super::audit::record_erasure(txn, by, operation, &learner.external_id, now).await?;
    Ok(deleted)
}
