//! The journal: entries, follow-ups and similarity search.

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::activity::ActivityKind;
use entity::{journal_entry, journal_follow_up, journal_mood_tag};
use sea_orm::ColumnTrait;
use sea_orm::sea_query::{Expr, ExprTrait, Query};

use super::access::{self, LearnerScope, parts};
use super::fast::{Leaf, Leaves, List, id, text, time, value};
use super::ids::{self, Kind};
use super::learner::Learner;
use super::loaders::{self, FollowUpEntry, FollowUpSynthesis};
use super::page;
use crate::domain::validate;
use crate::error::ApiResult;
use crate::store;
use crate::store::idempotent::Stored;
use crate::store::journal::{EntryChanges, NewEntry, NewFollowUp, Synthesis};

/// Where a journal entry came from.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::journal_entry::JournalSource")]
pub enum JournalSource {
    /// Written by the learner.
    Manual,
    /// Saved from a meditation reflection.
    Meditation,
    /// Synthesized by the companion from a follow-up exchange.
    Synthesis,
}

/// A journal entry.
pub struct JournalEntry {
    scope: LearnerScope,
    row: journal_entry::Model,
}

impl JournalEntry {
    pub fn new(scope: LearnerScope, row: journal_entry::Model) -> Self {
        JournalEntry { scope, row }
    }
}

impl Leaves for JournalEntry {
    fn leaf(&self, name: &str) -> Option<Leaf<'_>> {
        let r = &self.row;
        Some(match name {
            "id" => id(Kind::JournalEntry, r.id),
            "content" => text(&r.content),
            // What `mood_tags` answers for tags stored as a list of strings; anything else goes
            // to the resolver, which reports it.
            "moodTags" => match &r.mood_tags {
                serde_json::Value::Array(tags) => Leaf::Value(async_graphql::Value::List(
                    tags.iter()
                        .map(|t| t.as_str().map(|s| async_graphql::Value::String(s.to_owned())))
                        .collect::<Option<_>>()?,
                )),
                _ => return None,
            },
            "source" => value(&JournalSource::from(r.source)),
            "createdAt" => time(&r.created_at),
            "updatedAt" => time(&r.updated_at),
            _ => return None,
        })
    }
}

/// A journal entry.
#[Object]
impl JournalEntry {
    /// Global id (opaque).
    pub async fn id(&self) -> ID {
        ids::encode(Kind::JournalEntry, self.row.id)
    }
    /// The text, exactly as written.
    async fn content(&self) -> &str {
        &self.row.content
    }
    /// Mood tags, in the order they were given.
    async fn mood_tags(&self) -> ApiResult<Vec<String>> {
        store::journal::tags_of(&self.row)
    }
    /// Where the entry came from.
    async fn source(&self) -> JournalSource {
        self.row.source.into()
    }
    /// The length of the entry's embedding; null when it has none.
    async fn embedding_dimension(&self) -> Option<i32> {
        self.row.embedding.as_ref().and_then(|b| i32::try_from(b.len() / 4).ok())
    }
    /// When it was written.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
    /// Follow-up questions and answers on this entry, oldest first.
    #[graphql(complexity = "page::cost(first, child_complexity)")]
    async fn follow_ups(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many, 1..=100 (default 20).")] first: Option<i32>,
    ) -> ApiResult<List<JournalFollowUp>> {
        let n = validate::page_size(first, page::DEFAULT_PAGE)?;
        let rows = loaders::children::<journal_follow_up::Entity>(ctx, &self.scope, self.row.id, n).await?;
        Ok(List(rows.into_iter().map(|f| JournalFollowUp::new(self.scope.clone(), f)).collect()))
    }
    /// For a SYNTHESIS entry: the follow-up it was synthesized from (whose `entry` is the original).
    async fn synthesized_from(&self, ctx: &Context<'_>) -> ApiResult<Option<JournalFollowUp>> {
        Ok(loaders::synthesized_from(ctx, &self.scope, self.row.id)
            .await?
            .map(|f| JournalFollowUp::new(self.scope.clone(), f)))
    }
    /// The learner who wrote it.
    async fn learner(&self) -> Learner {
        Learner::new(self.scope.clone())
    }
}

/// A follow-up question on a journal entry and the learner's answer.
pub struct JournalFollowUp {
    scope: LearnerScope,
    row: journal_follow_up::Model,
}

impl JournalFollowUp {
    pub fn new(scope: LearnerScope, row: journal_follow_up::Model) -> Self {
        JournalFollowUp { scope, row }
    }
}

impl Leaves for JournalFollowUp {
    fn leaf(&self, name: &str) -> Option<Leaf<'_>> {
        let r = &self.row;
        Some(match name {
            "id" => id(Kind::JournalFollowUp, r.id),
            "question" => text(&r.question),
            "answer" => text(&r.answer),
            "createdAt" => time(&r.created_at),
            _ => return None,
        })
    }
}

/// A follow-up question on a journal entry and the learner's answer.
#[Object]
impl JournalFollowUp {
    /// Global id (opaque).
    pub async fn id(&self) -> ID {
        ids::encode(Kind::JournalFollowUp, self.row.id)
    }
    /// The companion's question.
    async fn question(&self) -> &str {
        &self.row.question
    }
    /// The learner's answer.
    async fn answer(&self) -> &str {
        &self.row.answer
    }
    /// When it was stored.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    /// The entry the follow-up is about.
    async fn entry(&self, ctx: &Context<'_>) -> ApiResult<Option<JournalEntry>> {
        let row = loaders::owned_row::<journal_entry::Entity, FollowUpEntry>(ctx, &self.scope, Some(self.row.entry_id))
            .await?;
        Ok(row.map(|e| JournalEntry::new(self.scope.clone(), e)))
    }
    /// The SYNTHESIS entry made from this exchange, if any.
    async fn synthesized_entry(&self, ctx: &Context<'_>) -> ApiResult<Option<JournalEntry>> {
        let row = loaders::owned_row::<journal_entry::Entity, FollowUpSynthesis>(
            ctx,
            &self.scope,
            self.row.synthesized_entry_id,
        )
        .await?;
        Ok(row.map(|e| JournalEntry::new(self.scope.clone(), e)))
    }
}

/// A journal entry and how similar it is to the query.
#[derive(SimpleObject)]
pub struct JournalMatch {
    /// Cosine similarity in -1..=1; higher is closer.
    pub score: f64,
    /// The entry.
    pub entry: JournalEntry,
}

/// The journal fields of `Learner`.
pub struct LearnerJournal(pub LearnerScope);

/// The journal fields of `Learner`.
#[Object]
impl LearnerJournal {
    /// Journal entries, newest first (by `createdAt`).
    #[graphql(complexity = "page::cost(first, child_complexity)")]
    async fn journal_entries(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1..=100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge of the previous page.")] after: Option<String>,
        #[graphql(desc = "Only entries with this mood tag.")] mood_tag: Option<String>,
        #[graphql(desc = "Only entries written at or after this instant.")] since: Option<DateTime<Utc>>,
        #[graphql(desc = "Only entries written before this instant.")] until: Option<DateTime<Utc>>,
    ) -> ApiResult<page::Connection<JournalEntry>> {
        let mut filter = sea_orm::Condition::all();
        if let Some(tag) = mood_tag {
            filter = filter.add(tagged(validate::lookup("moodTag", tag)?));
        }
        if let Some(since) = since {
            filter = filter.add(journal_entry::Column::CreatedAt.gte(validate::instant("since", since)?));
        }
        if let Some(until) = until {
            filter = filter.add(journal_entry::Column::CreatedAt.lt(validate::instant("until", until)?));
        }
        page::batched::<journal_entry::Entity, _>(ctx, &self.0, None, filter, first, after, |e| {
            JournalEntry::new(self.0.clone(), e)
        })
        .await
    }

    /// The learner's entries most similar to `embedding` (cosine similarity), highest first. The
    /// embedding must have the dimension of the learner's other embeddings; entries without one
    /// are not searched.
    #[graphql(complexity = "page::cost_with(first, 10, child_complexity)")]
    async fn similar_journal_entries(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The query vector (same dimension as the stored ones, at most 4,096).")] embedding: Vec<f64>,
        #[graphql(desc = "How many matches, 1..=100 (default 10).")] first: Option<i32>,
        #[graphql(desc = "Only entries with this mood tag.")] mood_tag: Option<String>,
    ) -> ApiResult<Vec<JournalMatch>> {
        let (state, _) = parts(ctx)?;
        let n = usize::try_from(validate::page_size(first, 10)?).unwrap_or(100);
        let query = store::journal::embedding("embedding", &embedding)?;
        let tag = mood_tag.map(|t| validate::lookup("moodTag", t)).transpose()?;
        let found = store::journal::similar(&state.reader, &state.vectors, &self.0, &query, n, tag.as_deref()).await?;
        Ok(found
            .into_iter()
            .map(|(score, e)| JournalMatch { score: f64::from(score), entry: JournalEntry::new(self.0.clone(), e) })
            .collect())
    }
}

/// Entries of the learner with a mood tag.
fn tagged(tag: String) -> sea_orm::sea_query::SimpleExpr {
    // Correlated on the entry (the tags' primary key is (entry, tag)), so the condition is the
    // same for every learner and a page of learners shares one statement.
    Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from(journal_mood_tag::Entity)
            .and_where(
                Expr::col((journal_mood_tag::Entity, journal_mood_tag::Column::EntryId))
                    .equals((journal_entry::Entity, journal_entry::Column::Id)),
            )
            .and_where(Expr::col((journal_mood_tag::Entity, journal_mood_tag::Column::Tag)).eq(tag))
            .to_owned(),
    )
}

/// A journal entry to write.
#[derive(InputObject)]
pub struct CreateJournalEntryInput {
    /// The learner.
    pub learner_id: ID,
    /// The text (not blank; at most 200,000 characters), stored exactly.
    pub content: String,
    /// Mood tags (each 1..=64 characters, at most 20; duplicates dropped).
    pub mood_tags: Option<Vec<String>>,
    /// An embedding of the text, computed by the client's AI service (at most 4,096 finite
    /// numbers, not all zero, as long as the learner's other embeddings).
    pub embedding: Option<Vec<f64>>,
    /// Where it came from (default MANUAL).
    pub source: Option<JournalSource>,
    /// A retry with the same key for the same learner returns the first entry and stores nothing.
    pub idempotency_key: Option<String>,
}

/// A journal entry after a write.
#[derive(SimpleObject)]
pub struct JournalEntryPayload {
    /// The entry as stored (the first one, for a retried `idempotencyKey`).
    pub entry: JournalEntry,
}

/// Changes to a journal entry; a field left out is unchanged.
#[derive(InputObject)]
pub struct UpdateJournalEntryInput {
    /// The entry.
    pub id: ID,
    /// The new text.
    pub content: Option<String>,
    /// The new mood tags (replacing the old ones).
    pub mood_tags: Option<Vec<String>>,
    /// A new embedding; null removes it.
    pub embedding: MaybeUndefined<Vec<f64>>,
}

/// The entry to delete.
#[derive(InputObject)]
pub struct DeleteJournalEntryInput {
    /// The entry.
    pub id: ID,
}

/// The result of `deleteJournalEntry`.
#[derive(SimpleObject)]
pub struct DeleteJournalEntryPayload {
    /// The id of the deleted entry.
    pub deleted_entry_id: ID,
}

/// A follow-up exchange on an entry.
#[derive(InputObject)]
pub struct AddJournalFollowUpInput {
    /// The entry the question is about.
    pub entry_id: ID,
    /// The companion's question (1..=20,000 characters).
    pub question: String,
    /// The learner's answer (1..=20,000 characters).
    pub answer: String,
    /// An entry the AI synthesized from the exchange: stored as a SYNTHESIS entry and linked.
    pub synthesized_content: Option<String>,
    /// The synthesized entry's embedding.
    pub embedding: Option<Vec<f64>>,
}

/// The result of `addJournalFollowUp`.
#[derive(SimpleObject)]
pub struct AddJournalFollowUpPayload {
    /// The stored follow-up (its `synthesizedEntry` is the SYNTHESIS entry, if one was given).
    pub follow_up: JournalFollowUp,
}

fn follow_up_text(field: &str, value: &str) -> ApiResult<String> {
    if value.trim().is_empty() {
        return Err(crate::error::ApiError::bad_input(field, "must not be empty"));
    }
    validate::text(field, value, store::journal::MAX_FOLLOW_UP_CHARS)
}

#[derive(Default)]
pub struct JournalMutation;

#[Object]
impl JournalMutation {
    /// Writes a journal entry.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn create_journal_entry(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The learner and the entry.")] input: CreateJournalEntryInput,
    ) -> ApiResult<JournalEntryPayload> {
        let new = NewEntry {
            content: store::journal::content("content", &input.content)?,
            mood_tags: store::journal::mood_tags("moodTags", input.mood_tags.unwrap_or_default())?,
            embedding: input.embedding.as_deref().map(|e| store::journal::embedding("embedding", e)).transpose()?,
            source: input.source.unwrap_or(JournalSource::Manual).into(),
            idempotency_key: input
                .idempotency_key
                .map(|k| validate::key("idempotencyKey", &k, validate::MAX_KEY_CHARS))
                .transpose()?,
        };
        let now = parts(ctx)?.0.clock.now();
        let (mut txn, scope) = access::write_learner(ctx, "learnerId", &input.learner_id).await?;
        let entry = match store::journal::create(&txn, &scope, new, now).await? {
            Stored::New(e) => {
                txn.activity(scope.id(), ActivityKind::JournalEntry, Some(e.id));
                txn.commit().await?;
                e
            }
            Stored::Replayed(e) => e,
        };
        Ok(JournalEntryPayload { entry: JournalEntry::new(scope, entry) })
    }

    /// Changes the learner's own journal entry.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn update_journal_entry(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The entry and the fields to change.")] input: UpdateJournalEntryInput,
    ) -> ApiResult<JournalEntryPayload> {
        let changes = EntryChanges {
            content: input.content.map(|c| store::journal::content("content", &c)).transpose()?,
            mood_tags: input.mood_tags.map(|t| store::journal::mood_tags("moodTags", t)).transpose()?,
            embedding: match input.embedding {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(e) => Some(Some(store::journal::embedding("embedding", &e)?)),
            },
        };
        let now = parts(ctx)?.0.clock.now();
        let (txn, scope, current) =
            access::write_owned::<journal_entry::Entity>(ctx, "id", &input.id, Kind::JournalEntry).await?;
        let updated = store::journal::update(&txn, &scope, current, changes, now).await?;
        txn.commit().await?;
        Ok(JournalEntryPayload { entry: JournalEntry::new(scope, updated) })
    }

    /// Deletes the learner's own journal entry with its follow-ups.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn delete_journal_entry(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The entry to delete.")] input: DeleteJournalEntryInput,
    ) -> ApiResult<DeleteJournalEntryPayload> {
        let (txn, scope, current) =
            access::write_owned::<journal_entry::Entity>(ctx, "id", &input.id, Kind::JournalEntry).await?;
        store::journal::delete(&txn, &scope, &current).await?;
        txn.commit().await?;
        Ok(DeleteJournalEntryPayload { deleted_entry_id: input.id })
    }

    /// Stores a follow-up exchange on an entry and, when `synthesizedContent` is given, the
    /// SYNTHESIS entry made from it, linked to it; all in one transaction.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn add_journal_follow_up(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The entry, the exchange and an optional synthesis.")] input: AddJournalFollowUpInput,
    ) -> ApiResult<AddJournalFollowUpPayload> {
        let synthesized = match input.synthesized_content {
            Some(text) => Some(Synthesis::Write(
                store::journal::content("synthesizedContent", &text)?,
                input.embedding.as_deref().map(|e| store::journal::embedding("embedding", e)).transpose()?,
            )),
            None => None,
        };
        let new = NewFollowUp {
            question: follow_up_text("question", &input.question)?,
            answer: follow_up_text("answer", &input.answer)?,
            synthesized,
        };
        let now = parts(ctx)?.0.clock.now();
        let (txn, scope, entry) =
            access::write_owned::<journal_entry::Entity>(ctx, "entryId", &input.entry_id, Kind::JournalEntry).await?;
        let (follow_up, _) = store::journal::add_follow_up(&txn, &scope, &entry, new, now).await?;
        txn.commit().await?;
        Ok(AddJournalFollowUpPayload { follow_up: JournalFollowUp::new(scope, follow_up) })
    }
}
