//! The activity feed: what live subscriptions deliver and replay. Writes append to it inside their
//! own transaction (`append`), so an activity exists exactly when its write committed; readers
//! take a learner's activities after a sequence number, with the rows they are about (`after`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::activity::{self, ActivityKind};
use entity::{
    activity_head, attempt, chat_message, event, goal, journal_entry, learner_progress, meditation_reflection,
    profiling_session, session,
};
use sea_orm::prelude::Uuid;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

/// Records that `learner` did each of `items` (a kind and the row it is about), numbered after the
/// learner's last activity. Call it last in a write transaction: it locks the learner's
/// `activity_head` row until the commit, which keeps a learner's activities in commit order.
/// Returns the sequence number of the last item.
pub async fn append<C: ConnectionTrait>(
    txn: &C,
    learner: Uuid,
    items: &[(ActivityKind, Option<Uuid>)],
    at: DateTime<Utc>,
) -> Result<i64, DbErr> {
    let n = i64::try_from(items.len()).map_err(|_| DbErr::Custom("too many activities".into()))?;
    if n == 0 {
        return current(txn, learner).await;
    }
    let head = activity_head::Entity::insert(activity_head::ActiveModel { learner_id: Set(learner), seq: Set(n) })
        .on_conflict(
            OnConflict::column(activity_head::Column::LearnerId)
                .value(
                    activity_head::Column::Seq,
                    Expr::col((activity_head::Entity, activity_head::Column::Seq)).add(Expr::val(n)),
                )
                .to_owned(),
        )
        .exec_with_returning(txn)
        .await?;
    let first = head.seq - n + 1;
    let rows = items.iter().zip(first..).map(|(&(kind, subject), seq)| activity::ActiveModel {
        id: Set(Uuid::now_v7()),
        learner_id: Set(learner),
        seq: Set(seq),
        kind: Set(kind),
        subject_id: Set(subject),
        occurred_at: Set(at),
    });
    activity::Entity::insert_many(rows).exec(txn).await?;
    Ok(head.seq)
}

/// The learner's last sequence number (0 before its first activity).
pub async fn current<C: ConnectionTrait>(db: &C, learner: Uuid) -> Result<i64, DbErr> {
    Ok(activity_head::Entity::find_by_id(learner).one(db).await?.map_or(0, |h| h.seq))
}

/// The smallest sequence number still stored after `seq`, if any (retention may have pruned the
/// ones right after it).
pub async fn next_stored<C: ConnectionTrait>(db: &C, learner: Uuid, seq: i64) -> Result<Option<i64>, DbErr> {
    activity::Entity::find()
        .select_only()
        .column_as(activity::Column::Seq.min(), "seq")
        .filter(activity::Column::LearnerId.eq(learner))
        .filter(activity::Column::Seq.gt(seq))
        .into_tuple::<Option<i64>>()
        .one(db)
        .await
        .map(Option::flatten)
}

/// The row an activity is about, read after its write committed. `None` inside when the row has
/// since been deleted (a journal entry deleted, attempts removed by retention).
#[derive(Debug, Clone)]
pub enum Subject {
    Attempt(Option<attempt::Model>),
    Streak(Option<learner_progress::Model>),
    Event(Option<event::Model>),
    Session(Option<session::Model>),
    Goal(Option<goal::Model>),
    JournalEntry(Option<journal_entry::Model>),
    ChatMessage(Option<chat_message::Model>),
    MeditationReflection(Option<meditation_reflection::Model>),
    ProfilingSession(Option<profiling_session::Model>),
}

/// One activity with the row it is about.
#[derive(Debug, Clone)]
pub struct Item {
    pub row: activity::Model,
    pub subject: Subject,
}

/// The learner's activities with `after < seq <= until`, oldest first, at most `limit`, each with
/// its subject: one query for the activities and one per kind present.
pub async fn after<C: ConnectionTrait>(
    db: &C,
    learner: Uuid,
    after: i64,
    until: Option<i64>,
    limit: u64,
) -> Result<Vec<Item>, DbErr> {
    let mut query = activity::Entity::find()
        .filter(activity::Column::LearnerId.eq(learner))
        .filter(activity::Column::Seq.gt(after))
        .order_by_asc(activity::Column::Seq)
        .limit(limit);
    if let Some(until) = until {
        query = query.filter(activity::Column::Seq.lte(until));
    }
    let rows = query.all(db).await?;
    with_subjects(db, learner, rows).await
}

async fn with_subjects<C: ConnectionTrait>(
    db: &C,
    learner: Uuid,
    rows: Vec<activity::Model>,
) -> Result<Vec<Item>, DbErr> {
    let ids = |kinds: &[ActivityKind]| -> Vec<Uuid> {
        rows.iter().filter(|r| kinds.contains(&r.kind)).filter_map(|r| r.subject_id).collect()
    };
    macro_rules! load {
        ($module:ident, $kinds:expr) => {{
            let wanted = ids($kinds);
            if wanted.is_empty() {
                HashMap::new()
            } else {
                $module::Entity::find()
                    .filter($module::Column::LearnerId.eq(learner))
                    .filter($module::Column::Id.is_in(wanted))
                    .all(db)
                    .await?
                    .into_iter()
                    .map(|m| (m.id, m))
                    .collect::<HashMap<Uuid, $module::Model>>()
            }
        }};
    }
    let mut attempts = load!(attempt, &[ActivityKind::Attempt]);
    let mut events = load!(event, &[ActivityKind::Event]);
    let sessions = load!(session, &[ActivityKind::SessionStarted, ActivityKind::SessionEnded]);
    let goals = load!(goal, &[ActivityKind::Goal]);
    let entries = load!(journal_entry, &[ActivityKind::JournalEntry]);
    let mut messages = load!(chat_message, &[ActivityKind::ChatMessage]);
    let mut reflections = load!(meditation_reflection, &[ActivityKind::MeditationReflection]);
    let profiling = load!(profiling_session, &[ActivityKind::ProfilingCompleted]);
    let progress = if rows.iter().any(|r| matches!(r.kind, ActivityKind::Streak | ActivityKind::ProgressReset)) {
        learner_progress::Entity::find_by_id(learner).one(db).await?
    } else {
        None
    };
    Ok(rows
        .into_iter()
        .map(|row| {
            let id = row.subject_id.unwrap_or_default();
            // Sessions, goals, entries and profiling sessions can appear twice in one batch
            // (started, then ended), so those are cloned; the rest appear once.
            let subject = match row.kind {
                ActivityKind::Attempt => Subject::Attempt(attempts.remove(&id)),
                ActivityKind::Streak | ActivityKind::ProgressReset => Subject::Streak(progress.clone()),
                ActivityKind::Event => Subject::Event(events.remove(&id)),
                ActivityKind::SessionStarted | ActivityKind::SessionEnded => {
                    Subject::Session(sessions.get(&id).cloned())
                }
                ActivityKind::Goal => Subject::Goal(goals.get(&id).cloned()),
                ActivityKind::JournalEntry => Subject::JournalEntry(entries.get(&id).cloned()),
                ActivityKind::ChatMessage => Subject::ChatMessage(messages.remove(&id)),
                ActivityKind::MeditationReflection => Subject::MeditationReflection(reflections.remove(&id)),
                ActivityKind::ProfilingCompleted => Subject::ProfilingSession(profiling.get(&id).cloned()),
            };
            Item { row, subject }
        })
        .collect())
}
