//! The journal: entries with mood tags and embeddings, follow-ups, similarity search.

use chrono::{DateTime, Utc};
use entity::journal_entry::{self, JournalSource};
use entity::{journal_corpus, journal_follow_up, journal_mood_tag, meditation_reflection};
use sea_orm::prelude::Uuid;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect, Set,
};

use super::idempotent::{self, Idempotent, Stored};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::vectors::{Corpus, VectorCache};
use crate::domain::embedding::{Unit, decode, top_k};
use crate::domain::validate;
use crate::error::{ApiError, ApiResult};
use crate::graphql::access::{LearnerScope, of_learner};

/// Longest journal text, in characters: a long essay fits, a pasted book does not.
pub const MAX_CONTENT_CHARS: usize = 200_000;
/// Most mood tags on one entry, and the longest tag.
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG_CHARS: usize = 64;
/// Longest follow-up question or answer.
pub const MAX_FOLLOW_UP_CHARS: usize = 20_000;

impl Idempotent for journal_entry::Entity {
    fn key_column() -> Self::Column {
        journal_entry::Column::IdempotencyKey
    }
}

/// Journal text: not blank, at most `MAX_CONTENT_CHARS`, stored exactly as given.
pub fn content(field: &str, value: &str) -> ApiResult<String> {
    if value.trim().is_empty() {
        return Err(ApiError::bad_input(field, "must not be empty"));
    }
    validate::text(field, value, MAX_CONTENT_CHARS)
}

/// Mood tags: each trimmed, 1..=64 characters; duplicates dropped, order kept; at most 20.
pub fn mood_tags(field: &str, tags: Vec<String>) -> ApiResult<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        let tag = validate::key(field, &tag, MAX_TAG_CHARS)?;
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    if out.len() > MAX_TAGS {
        return Err(ApiError::bad_input(field, format!("at most {MAX_TAGS} tags")));
    }
    Ok(out)
}

/// A client's embedding, validated and scaled to unit length.
pub fn embedding(field: &str, values: &[f64]) -> ApiResult<Unit> {
    Unit::new(values).map_err(|e| ApiError::bad_input(field, e.reason()))
}

/// A validated entry to create.
pub struct NewEntry {
    pub content: String,
    pub mood_tags: Vec<String>,
    pub embedding: Option<Unit>,
    pub source: JournalSource,
    pub idempotency_key: Option<String>,
}

/// Fixes the learner's embedding dimension on first use and refuses any other. The corpus row is
/// written with ON CONFLICT DO NOTHING and read back, so two racing first entries of different
/// lengths cannot both win.
pub async fn check_dimension(
    txn: &DatabaseTransaction,
    learner: &LearnerScope,
    field: &str,
    dim: usize,
) -> ApiResult<()> {
    let dimension = i32::try_from(dim).map_err(|_| ApiError::Internal)?;
    journal_corpus::Entity::insert(journal_corpus::ActiveModel {
        learner_id: Set(learner.id()),
        dimension: Set(dimension),
        version: Set(0),
    })
    .on_conflict_do_nothing_on([journal_corpus::Column::LearnerId])
    .exec_without_returning(txn)
    .await?;
    let stored = journal_corpus::Entity::find_by_id(learner.id()).one(txn).await?.ok_or(ApiError::Internal)?;
    if stored.dimension != dimension {
        return Err(ApiError::bad_input(
            field,
            format!("has {dim} dimensions; this learner's journal uses {}", stored.dimension),
        ));
    }
    Ok(())
}

/// Marks the learner's embedded entries as changed (see `store::vectors`): in the transaction of
/// the change, so a replica can never see the change without the new version.
async fn bump_version(txn: &DatabaseTransaction, learner: &LearnerScope) -> ApiResult<()> {
    journal_corpus::Entity::update_many()
        .col_expr(journal_corpus::Column::Version, Expr::col(journal_corpus::Column::Version).add(1))
        .filter(journal_corpus::Column::LearnerId.eq(learner.id()))
        .exec(txn)
        .await?;
    Ok(())
}

async fn write_tags(txn: &DatabaseTransaction, learner: &LearnerScope, entry: Uuid, tags: &[String]) -> ApiResult<()> {
    journal_mood_tag::Entity::delete_many().filter(journal_mood_tag::Column::EntryId.eq(entry)).exec(txn).await?;
    if tags.is_empty() {
        return Ok(());
    }
    let rows = tags.iter().map(|t| journal_mood_tag::ActiveModel {
        entry_id: Set(entry),
        tag: Set(t.clone()),
        learner_id: Set(learner.id()),
    });
    journal_mood_tag::Entity::insert_many(rows).exec_without_returning(txn).await?;
    Ok(())
}

/// The tags as stored on the entry row. They are validated on write, so a value that does not
/// read back is a fault of ours: logged, and INTERNAL rather than an empty list.
pub fn tags_of(entry: &journal_entry::Model) -> ApiResult<Vec<String>> {
    serde_json::from_value(entry.mood_tags.clone()).map_err(|e| {
        tracing::error!(entry_id = %entry.id, error = %e, "stored mood tags do not parse");
        ApiError::Internal
    })
}

/// Creates an entry (or, for a retried idempotency key, returns the first one).
pub async fn create(
    txn: &DatabaseTransaction,
    learner: &LearnerScope,
    new: NewEntry,
    now: DateTime<Utc>,
) -> ApiResult<Stored<journal_entry::Model>> {
    if let Some(e) = &new.embedding {
        check_dimension(txn, learner, "embedding", e.dimension()).await?;
    }
    let id = Uuid::now_v7();
    let row = journal_entry::ActiveModel {
        id: Set(id),
        learner_id: Set(learner.id()),
        content: Set(new.content),
        mood_tags: Set(serde_json::json!(new.mood_tags)),
        source: Set(new.source),
        embedding: Set(new.embedding.as_ref().map(Unit::to_bytes)),
        created_at: Set(now),
        updated_at: Set(now),
        idempotency_key: Set(new.idempotency_key.clone()),
    };
    let stored = idempotent::insert_once(txn, learner.id(), new.idempotency_key.as_deref(), row).await?;
    if let Stored::New(entry) = &stored {
        write_tags(txn, learner, entry.id, &new.mood_tags).await?;
        if entry.embedding.is_some() {
            bump_version(txn, learner).await?;
        }
    }
    Ok(stored)
}

/// Validated changes to an entry; `None` keeps a field, `embedding: Some(None)` removes it.
#[derive(Default)]
pub struct EntryChanges {
    pub content: Option<String>,
    pub mood_tags: Option<Vec<String>>,
    pub embedding: Option<Option<Unit>>,
}

pub async fn update(
    txn: &DatabaseTransaction,
    learner: &LearnerScope,
    current: journal_entry::Model,
    changes: EntryChanges,
    now: DateTime<Utc>,
) -> ApiResult<journal_entry::Model> {
    if let Some(Some(e)) = &changes.embedding {
        check_dimension(txn, learner, "embedding", e.dimension()).await?;
    }
    let id = current.id;
    let mut row: journal_entry::ActiveModel = current.into();
    if let Some(c) = changes.content {
        row.content = Set(c);
    }
    if let Some(tags) = &changes.mood_tags {
        row.mood_tags = Set(serde_json::json!(tags));
        write_tags(txn, learner, id, tags).await?;
    }
    if let Some(e) = changes.embedding {
        row.embedding = Set(e.as_ref().map(Unit::to_bytes));
        bump_version(txn, learner).await?;
    }
    row.updated_at = Set(now);
    Ok(row.update(txn).await?)
}

/// Deletes an entry with its tags and follow-ups; follow-ups and reflections that pointed at it
/// as their synthesized or saved entry keep existing without that link.
pub async fn delete(txn: &DatabaseTransaction, learner: &LearnerScope, entry: &journal_entry::Model) -> ApiResult<()> {
    journal_follow_up::Entity::update_many()
        .col_expr(journal_follow_up::Column::SynthesizedEntryId, Expr::value(Option::<Uuid>::None))
        .filter(journal_follow_up::Column::LearnerId.eq(learner.id()))
        .filter(journal_follow_up::Column::SynthesizedEntryId.eq(entry.id))
        .exec(txn)
        .await?;
    meditation_reflection::Entity::update_many()
        .col_expr(meditation_reflection::Column::JournalEntryId, Expr::value(Option::<Uuid>::None))
        .filter(meditation_reflection::Column::LearnerId.eq(learner.id()))
        .filter(meditation_reflection::Column::JournalEntryId.eq(entry.id))
        .exec(txn)
        .await?;
    journal_follow_up::Entity::delete_many().filter(journal_follow_up::Column::EntryId.eq(entry.id)).exec(txn).await?;
    journal_mood_tag::Entity::delete_many().filter(journal_mood_tag::Column::EntryId.eq(entry.id)).exec(txn).await?;
    journal_entry::Entity::delete_by_id(entry.id).exec(txn).await?;
    if entry.embedding.is_some() {
        bump_version(txn, learner).await?;
    }
    Ok(())
}

/// The entry the AI synthesized from a follow-up exchange.
pub enum Synthesis {
    /// Text (and an embedding) to store as a new SYNTHESIS entry.
    Write(String, Option<Unit>),
    /// An entry of the learner's already stored (an import brings the source's synthesized entry
    /// over with its own time and tags first).
    Stored(journal_entry::Model),
}

/// A validated follow-up.
pub struct NewFollowUp {
    pub question: String,
    pub answer: String,
    pub synthesized: Option<Synthesis>,
}

/// Stores a follow-up on an entry and, when a synthesis is given, the SYNTHESIS entry it
/// produced, linked to it.
pub async fn add_follow_up(
    txn: &DatabaseTransaction,
    learner: &LearnerScope,
    entry: &journal_entry::Model,
    new: NewFollowUp,
    now: DateTime<Utc>,
) -> ApiResult<(journal_follow_up::Model, Option<journal_entry::Model>)> {
    let synthesized = match new.synthesized {
        Some(Synthesis::Stored(entry)) => Some(entry),
        Some(Synthesis::Write(content, embedding)) => {
            let created = create(
                txn,
                learner,
                NewEntry {
                    content,
                    mood_tags: Vec::new(),
                    embedding,
                    source: JournalSource::Synthesis,
                    idempotency_key: None,
                },
                now,
            )
            .await?;
            match created {
                Stored::New(e) | Stored::Replayed(e) => Some(e),
            }
        }
        None => None,
    };
    let follow_up = journal_follow_up::ActiveModel {
        id: Set(Uuid::now_v7()),
        learner_id: Set(learner.id()),
        entry_id: Set(entry.id),
        question: Set(new.question),
        answer: Set(new.answer),
        synthesized_entry_id: Set(synthesized.as_ref().map(|e| e.id)),
        created_at: Set(now),
    }
    .insert(txn)
    .await?;
    Ok((follow_up, synthesized))
}

/// The learner's entries most similar to `query` (cosine similarity), best first. Neither engine
/// has vector arithmetic without an extension, so the vectors are scored here: from this replica's
/// cache when it holds the learner's corpus at the stored version (one small read), else read once
/// (10,000 × 1,536 f32 is 61 MB) and cached. Returns nothing before the first embedded entry.
pub async fn similar<C: ConnectionTrait>(
    db: &C,
    cache: &VectorCache,
    learner: &LearnerScope,
    query: &Unit,
    first: usize,
    mood_tag: Option<&str>,
) -> ApiResult<Vec<(f32, journal_entry::Model)>> {
    let Some(stored) = journal_corpus::Entity::find_by_id(learner.id()).one(db).await? else {
        return Ok(Vec::new());
    };
    if usize::try_from(stored.dimension).ok() != Some(query.dimension()) {
        return Err(ApiError::bad_input(
            "embedding",
            format!("has {} dimensions; this learner's journal uses {}", query.dimension(), stored.dimension),
        ));
    }
    let corpus = match cache.get(learner.id(), stored.version) {
        Some(hit) => hit,
        None => {
            // Read after the version: a corpus can only be newer than the version it is kept
            // under, which costs a reload, never a stale answer.
            let loaded = Arc::new(load_corpus(db, learner, stored.version, query.dimension()).await?);
            cache.put(learner.id(), loaded.clone());
            loaded
        }
    };
    let allowed: Option<HashSet<Uuid>> = match mood_tag {
        Some(tag) => Some(
            journal_mood_tag::Entity::find()
                .select_only()
                .column(journal_mood_tag::Column::EntryId)
                .filter(journal_mood_tag::Column::LearnerId.eq(learner.id()))
                .filter(journal_mood_tag::Column::Tag.eq(tag))
                .into_tuple::<Uuid>()
                .all(db)
                .await?
                .into_iter()
                .collect(),
        ),
        None => None,
    };
    let scored = corpus
        .ids
        .iter()
        .enumerate()
        .filter(|(_, id)| allowed.as_ref().is_none_or(|a| a.contains(*id)))
        .map(|(i, id)| (query.dot(corpus.vector(i)), *id));
    let best = top_k(scored, first);
    let ids: Vec<Uuid> = best.iter().map(|(_, id)| *id).collect();
    let mut rows: HashMap<Uuid, journal_entry::Model> = of_learner::<journal_entry::Entity>(learner)
        .filter(journal_entry::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|e| (e.id, e))
        .collect();
    Ok(best.into_iter().filter_map(|(score, id)| rows.remove(&id).map(|e| (score, e))).collect())
}

/// Every embedded entry of the learner, decoded.
async fn load_corpus<C: ConnectionTrait>(
    db: &C,
    learner: &LearnerScope,
    version: i64,
    dimension: usize,
) -> ApiResult<Corpus> {
    let rows: Vec<(Uuid, Vec<u8>)> = of_learner::<journal_entry::Entity>(learner)
        .select_only()
        .column(journal_entry::Column::Id)
        .column(journal_entry::Column::Embedding)
        .filter(journal_entry::Column::Embedding.is_not_null())
        .into_tuple()
        .all(db)
        .await?;
    let mut corpus = Corpus {
        version,
        dimension,
        ids: Vec::with_capacity(rows.len()),
        vectors: Vec::with_capacity(rows.len() * dimension),
    };
    for (id, bytes) in rows {
        match decode(&bytes).filter(|v| v.len() == dimension) {
            Some(v) => {
                corpus.ids.push(id);
                corpus.vectors.extend(v);
            }
            None => tracing::error!(entry_id = %id, "stored embedding has another dimension than the corpus"),
        }
    }
    Ok(corpus)
}
