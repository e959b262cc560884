//! Meditation reflections and the learner's wellbeing activity summary.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::activity::ActivityKind;
use entity::{journal_entry, meditation_reflection};

use super::access::{self, LearnerScope, parts};
use super::fast::{Fast, Leaf, Leaves, time_opt, value};
use super::ids::{self, Kind};
use super::journal::JournalEntry;
use super::loaders::{self, ReflectionEntry};
use super::page;
use super::session::Session;
use crate::domain::validate;
use crate::error::{ApiError, ApiResult};
use crate::store;
use crate::store::companion::NewReflection;

/// A learner's reflection after a meditation.
pub struct MeditationReflection {
    scope: LearnerScope,
    row: meditation_reflection::Model,
}

impl MeditationReflection {
    pub fn new(scope: LearnerScope, row: meditation_reflection::Model) -> Self {
        MeditationReflection { scope, row }
    }
}

/// A learner's reflection after a meditation.
#[Object]
impl MeditationReflection {
    /// Global id (opaque).
    pub async fn id(&self) -> ID {
        ids::encode(Kind::MeditationReflection, self.row.id)
    }
    /// How long the meditation lasted, in minutes.
    async fn duration_minutes(&self) -> i32 {
        self.row.duration_minutes
    }
    /// The learner's reflection.
    async fn reflection(&self) -> &str {
        &self.row.reflection
    }
    /// The companion's insight on it, if any.
    async fn insight(&self) -> Option<&str> {
        self.row.insight.as_deref()
    }
    /// How the learner felt (the client's vocabulary, e.g. `calm`).
    async fn emotional_state(&self) -> Option<&str> {
        self.row.emotional_state.as_deref()
    }
    /// When it was stored.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    /// The MEDITATION session it reflects on.
    async fn session(&self) -> Option<Session> {
        Some(Session::by_id(self.scope.clone(), self.row.session_id, loaders::SessionOf::Reflection))
    }
    /// The journal entry it was saved as, if it was.
    async fn journal_entry(&self, ctx: &Context<'_>) -> ApiResult<Option<JournalEntry>> {
        let row =
            loaders::owned_row::<journal_entry::Entity, ReflectionEntry>(ctx, &self.scope, self.row.journal_entry_id)
                .await?;
        Ok(row.map(|e| JournalEntry::new(self.scope.clone(), e)))
    }
}

/// A learner's wellbeing activity, counted (never loaded row by row).
#[derive(SimpleObject)]
pub struct ActivitySummary {
    /// CHAT sessions.
    pub chat_sessions: i64,
    /// Chat messages, of every role.
    pub chat_messages: i64,
    /// Journal entries, of every source.
    pub journal_entries: i64,
    /// MEDITATION sessions.
    pub meditation_sessions: i64,
    /// Minutes of meditation with a reflection.
    pub meditation_minutes: i64,
    /// The latest chat session start, chat message, journal entry, meditation session or
    /// reflection; null with none.
    pub last_active_at: Option<DateTime<Utc>>,
}

impl Leaves for ActivitySummary {
    fn leaf(&self, name: &str) -> Option<Leaf<'_>> {
        Some(match name {
            "chatSessions" => value(&self.chat_sessions),
            "chatMessages" => value(&self.chat_messages),
            "journalEntries" => value(&self.journal_entries),
            "meditationSessions" => value(&self.meditation_sessions),
            "meditationMinutes" => value(&self.meditation_minutes),
            "lastActiveAt" => time_opt(&self.last_active_at),
            _ => return None,
        })
    }
}

/// The meditation fields of `Learner`.
pub struct LearnerMeditation(pub LearnerScope);

/// The meditation fields of `Learner`.
#[Object]
impl LearnerMeditation {
    /// Meditation reflections, newest first.
    #[graphql(complexity = "page::cost(first, child_complexity)")]
    async fn meditation_reflections(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1..=100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge of the previous page.")] after: Option<String>,
    ) -> ApiResult<page::Connection<MeditationReflection>> {
        page::batched::<meditation_reflection::Entity, _>(
            ctx,
            &self.0,
            None,
            sea_orm::Condition::all(),
            first,
            after,
            |r| MeditationReflection::new(self.0.clone(), r),
        )
        .await
    }

    /// Counts of the learner's chat, journal and meditation activity.
    async fn activity_summary(&self, ctx: &Context<'_>) -> ApiResult<Fast<ActivitySummary>> {
        let c = loaders::activity(ctx, &self.0).await?;
        Ok(Fast(ActivitySummary {
            chat_sessions: c.chat_sessions,
            chat_messages: c.chat_messages,
            journal_entries: c.journal_entries,
            meditation_sessions: c.meditation_sessions,
            meditation_minutes: c.meditation_minutes,
            last_active_at: c.last_active_at,
        }))
    }
}

/// A reflection after a meditation.
#[derive(InputObject)]
pub struct RecordMeditationReflectionInput {
    /// The learner.
    pub learner_id: ID,
    /// How long the meditation lasted, 1..=600 minutes.
    pub duration_minutes: i32,
    /// The learner's reflection (not blank; at most 20,000 characters).
    pub reflection: String,
    /// The companion's insight (at most 20,000 characters).
    pub insight: Option<String>,
    /// How the learner felt (1..=64 characters, e.g. `calm`).
    pub emotional_state: Option<String>,
    /// Also save the reflection as a MEDITATION journal entry tagged `meditative` and the
    /// emotional state (default false).
    pub save_to_journal: Option<bool>,
    /// The MEDITATION session to complete; left out, the learner's open one, or a completed one of
    /// `durationMinutes` ending now.
    pub session_id: Option<ID>,
}

/// The result of `recordMeditationReflection`.
#[derive(SimpleObject)]
pub struct RecordMeditationReflectionPayload {
    /// The stored reflection.
    pub reflection: MeditationReflection,
    /// The completed MEDITATION session.
    pub session: Session,
    /// The journal entry, when `saveToJournal` was true.
    pub journal_entry: Option<JournalEntry>,
}

#[derive(Default)]
pub struct MeditationMutation;

#[Object]
impl MeditationMutation {
    /// Completes a MEDITATION session with the learner's reflection, optionally saved to the
    /// journal; all in one transaction. One reflection per session (a second is CONFLICT).
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn record_meditation_reflection(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The learner, the meditation and the reflection.")] input: RecordMeditationReflectionInput,
    ) -> ApiResult<RecordMeditationReflectionPayload> {
        if !(1..=600).contains(&input.duration_minutes) {
            return Err(ApiError::bad_input("durationMinutes", "must be between 1 and 600"));
        }
        if input.reflection.trim().is_empty() {
            return Err(ApiError::bad_input("reflection", "must not be empty"));
        }
        let new = NewReflection {
            session_id: input.session_id.as_ref().map(|s| ids::decode("sessionId", s, Kind::Session)).transpose()?,
            duration_minutes: input.duration_minutes,
            reflection: validate::text("reflection", &input.reflection, store::journal::MAX_FOLLOW_UP_CHARS)?,
            insight: input
                .insight
                .map(|i| validate::text("insight", &i, store::journal::MAX_FOLLOW_UP_CHARS))
                .transpose()?,
            emotional_state: input
                .emotional_state
                .map(|e| validate::key("emotionalState", &e, store::journal::MAX_TAG_CHARS))
                .transpose()?,
            save_to_journal: input.save_to_journal.unwrap_or(false),
        };
        let now = parts(ctx)?.0.clock.now();
        let (mut txn, scope) = access::write_learner(ctx, "learnerId", &input.learner_id).await?;
        let done = store::companion::reflect(&txn, &scope, new, now).await?;
        if let Some(entry) = &done.journal_entry {
            txn.activity(scope.id(), ActivityKind::JournalEntry, Some(entry.id));
        }
        txn.activity(scope.id(), ActivityKind::MeditationReflection, Some(done.reflection.id));
        txn.commit().await?;
        Ok(RecordMeditationReflectionPayload {
            reflection: MeditationReflection::new(scope.clone(), done.reflection),
            session: Session::new(scope.clone(), done.session),
            journal_entry: done.journal_entry.map(|e| JournalEntry::new(scope, e)),
        })
    }
}
