//! The wellbeing companion's writes: agent conversation state, chat messages, mentor selections
//! and meditation reflections.

use chrono::{DateTime, TimeDelta, Utc};
use entity::chat_message::{self, ChatRole};
use entity::session::{self, SessionKind};
use entity::{chat_post, conversation_state, learner, meditation_reflection, mentor_selection};
use sea_orm::prelude::Uuid;
use sea_orm::sea_query::{Expr, ExprTrait, LockType, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::idempotent::insert_unless_conflict;
use super::journal::{self, NewEntry};
use crate::domain::validate;
use crate::error::{ApiError, ApiResult};
use crate::graphql::access::{LearnerScope, of_learner, owned_by};
use crate::store::idempotent::Stored;

/// Serializes the companion writes of one learner (finding or opening "the open session" and
/// numbering messages must not interleave). PostgreSQL locks the learner's row; SQLite's write
/// transactions are already one at a time.
pub(crate) async fn lock_learner(txn: &DatabaseTransaction, learner: &LearnerScope) -> ApiResult<()> {
    // FOR NO KEY UPDATE: companion writes of one learner wait for each other, while the foreign-key
    // checks of the learner's other writes (FOR KEY SHARE) go on.
    if txn.get_database_backend() == DbBackend::Postgres {
        learner::Entity::find_by_id(learner.id())
            .select_only()
            .column(learner::Column::Id)
            .lock(LockType::NoKeyUpdate)
            .into_tuple::<Uuid>()
            .one(txn)
            .await?;
    }
    Ok(())
}

/// A session key: 1..=128 characters, default `default`.
pub fn session_key(value: Option<String>) -> ApiResult<String> {
    match value {
        Some(k) => validate::key("sessionKey", &k, validate::MAX_KEY_CHARS),
        None => Ok("default".to_owned()),
    }
}

/// A validated conversation state to save.
pub struct NewState {
    pub session_key: String,
    pub state: serde_json::Value,
    pub last_agent: Option<String>,
    /// The version the writer read; 0 when it expects no state yet.
    pub expected_version: Option<i32>,
}

/// Saves an agent's state for (learner, session key), with a version. Without an expected
/// version the save wins and the version moves on; with one, a writer that read an older version
/// gets CONFLICT and nothing changes (two tutor replicas answering one learner cannot silently
/// overwrite each other).
pub async fn save_state(
    txn: &DatabaseTransaction,
    learner: &LearnerScope,
    new: NewState,
    max_states: usize,
    now: DateTime<Utc>,
) -> ApiResult<conversation_state::Model> {
    use conversation_state::Column as C;
    if current_version(txn, learner, &new.session_key).await?.is_none() {
        let n = of_learner::<conversation_state::Entity>(learner).count(txn).await?;
        if n >= max_states as u64 {
            return Err(ApiError::bad_input(
                "sessionKey",
                format!("a learner has at most {max_states} conversation states"),
            ));
        }
    }
    let fresh = conversation_state::ActiveModel {
        learner_id: Set(learner.id()),
        session_key: Set(new.session_key.clone()),
        state: Set(new.state.clone()),
        last_agent: Set(new.last_agent.clone()),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let stale = |found: Option<i32>, expected: i32| match found {
        Some(v) => ApiError::Conflict(format!("the state is at version {v}, not {expected}")),
        None => ApiError::Conflict(format!("no state is saved under this key, not version {expected}")),
    };
    match new.expected_version {
        None => Ok(conversation_state::Entity::insert(fresh)
            .on_conflict(
                OnConflict::columns([C::LearnerId, C::SessionKey])
                    .update_columns([C::State, C::LastAgent, C::UpdatedAt])
                    .value(C::Version, Expr::col((conversation_state::Entity, C::Version)).add(1))
                    .to_owned(),
            )
            .exec_with_returning(txn)
            .await?),
        Some(0) => {
            let insert =
                conversation_state::Entity::insert(fresh).on_conflict_do_nothing_on([C::LearnerId, C::SessionKey]);
            match insert_unless_conflict(txn, insert).await? {
                Some(saved) => Ok(saved),
                None => Err(stale(current_version(txn, learner, &new.session_key).await?, 0)),
            }
        }
        Some(expected) => {
            let updated = conversation_state::Entity::update_many()
                .col_expr(C::State, Expr::value(new.state))
                .col_expr(C::LastAgent, Expr::value(new.last_agent))
                .col_expr(C::Version, Expr::value(expected + 1))
                .col_expr(C::UpdatedAt, Expr::value(now))
                .filter(C::LearnerId.eq(learner.id()))
                .filter(C::SessionKey.eq(&new.session_key))
                .filter(C::Version.eq(expected))
                .exec(txn)
                .await?;
            if updated.rows_affected == 0 {
                return Err(stale(current_version(txn, learner, &new.session_key).await?, expected));
            }
            conversation_state::Entity::find_by_id((learner.id(), new.session_key))
                .one(txn)
                .await?
                .ok_or(ApiError::Internal)
        }
    }
}

async fn current_version(txn: &DatabaseTransaction, learner: &LearnerScope, key: &str) -> ApiResult<Option<i32>> {
    Ok(conversation_state::Entity::find_by_id((learner.id(), key.to_owned())).one(txn).await?.map(|s| s.version))
}

/// Clears a state; true when there was one.
pub async fn clear_state(txn: &DatabaseTransaction, learner: &LearnerScope, key: &str) -> ApiResult<bool> {
    let done = conversation_state::Entity::delete_many()
        .filter(conversation_state::Column::LearnerId.eq(learner.id()))
        .filter(conversation_state::Column::SessionKey.eq(key))
        .exec(txn)
        .await?;
    Ok(done.rows_affected > 0)
}

/// Most messages in one `postChatMessages` call, and the longest message.
pub const MAX_MESSAGES_PER_POST: usize = 50;
pub const MAX_MESSAGE_CHARS: usize = 20_000;

/// A validated message to append.
pub struct NewMessage {
    pub role: ChatRole,
    pub content: String,
    pub agent_persona: Option<String>,
}

/// The learner's latest open session of `kind`, if any.
async fn open_session(
    txn: &DatabaseTransaction,
    learner: &LearnerScope,
    kind: SessionKind,
) -> ApiResult<Option<session::Model>> {
    Ok(session::Entity::find()
        .filter(session::Column::LearnerId.eq(learner.id()))
        .filter(session::Column::Kind.eq(kind))
        .filter(session::Column::EndedAt.is_null())
        .order_by_desc(session::Column::StartedAt)
        .order_by_desc(session::Column::Id)
        .one(txn)
        .await?)
}

/// The session a chat write goes to: the given one (which must be one of the learner's CHAT
/// sessions, still open), or the learner's open CHAT session, or a new one.
async fn chat_session(
    txn: &DatabaseTransaction,
    learner: &LearnerScope,
    given: Option<Uuid>,
    now: DateTime<Utc>,
) -> ApiResult<session::Model> {
    if let Some(id) = given {
        let found =
            owned_by::<session::Entity, _>(txn, learner, id).await?.ok_or(ApiError::NotFound("session".into()))?;
        if found.kind != SessionKind::Chat {
            return Err(ApiError::bad_input("sessionId", "is not a CHAT session"));
        }
        if found.ended_at.is_some() {
            return Err(ApiError::Conflict("the chat session has ended".into()));
        }
        return Ok(found);
    }
    match open_session(txn, learner, SessionKind::Chat).await? {
        Some(s) => Ok(s),
        None => super::session::start(txn, learner, SessionKind::Chat, now, now).await,
    }
}

/// Appends messages, in order, to the given, the open or a new CHAT session. A retried
/// idempotency key returns the first call's session and messages and appends nothing.
pub async fn post_messages(
    txn: &DatabaseTransaction,
    learner: &LearnerScope,
    session_id: Option<Uuid>,
    messages: Vec<NewMessage>,
    idempotency_key: Option<String>,
    now: DateTime<Utc>,
) -> ApiResult<Stored<(session::Model, Vec<chat_message::Model>)>> {
    lock_learner(txn, learner).await?;
    if let Some(key) = &idempotency_key
        && let Some(post) = chat_post::Entity::find()
            .filter(chat_post::Column::LearnerId.eq(learner.id()))
            .filter(chat_post::Column::IdempotencyKey.eq(key))
            .one(txn)
            .await?
    {
        let session = session::Entity::find_by_id(post.session_id).one(txn).await?.ok_or(ApiError::Internal)?;
        let messages = chat_message::Entity::find()
            .filter(chat_message::Column::PostId.eq(post.id))
            .order_by_asc(chat_message::Column::Position)
            .all(txn)
            .await?;
        return Ok(Stored::Replayed((session, messages)));
    }
    let session = chat_session(txn, learner, session_id, now).await?;
    let last: Option<i32> = chat_message::Entity::find()
        .select_only()
        .column_as(chat_message::Column::Position.max(), "last")
        .filter(chat_message::Column::SessionId.eq(session.id))
        .into_tuple::<Option<i32>>()
        .one(txn)
        .await?
        .flatten();
    let post = chat_post::ActiveModel {
        id: Set(Uuid::now_v7()),
        learner_id: Set(learner.id()),
        session_id: Set(session.id),
        idempotency_key: Set(idempotency_key),
        created_at: Set(now),
    }
    .insert(txn)
    .await?;
    let first = last.unwrap_or(0) + 1;
    let mut stored = Vec::with_capacity(messages.len());
    for (i, m) in messages.into_iter().enumerate() {
        let row = chat_message::ActiveModel {
            id: Set(Uuid::now_v7()),
            learner_id: Set(learner.id()),
            session_id: Set(session.id),
            post_id: Set(post.id),
            position: Set(first + i32::try_from(i).map_err(|_| ApiError::Internal)?),
            role: Set(m.role),
            content: Set(m.content),
            agent_persona: Set(m.agent_persona),
            created_at: Set(now),
        };
        stored.push(row.insert(txn).await?);
    }
    Ok(Stored::New((session, stored)))
}

/// Records the mentor chosen in one of the learner's CHAT sessions.
pub async fn select_mentor(
    txn: &DatabaseTransaction,
    learner: &LearnerScope,
    session_id: Uuid,
    mentor_id: String,
    context_keywords: Option<String>,
    now: DateTime<Utc>,
) -> ApiResult<mentor_selection::Model> {
    let session =
        owned_by::<session::Entity, _>(txn, learner, session_id).await?.ok_or(ApiError::NotFound("session".into()))?;
    if session.kind != SessionKind::Chat {
        return Err(ApiError::bad_input("sessionId", "is not a CHAT session"));
    }
    Ok(mentor_selection::ActiveModel {
        id: Set(Uuid::now_v7()),
        learner_id: Set(learner.id()),
        session_id: Set(session.id),
        mentor_id: Set(mentor_id),
        context_keywords: Set(context_keywords),
        created_at: Set(now),
    }
    .insert(txn)
    .await?)
}

/// A validated meditation reflection.
pub struct NewReflection {
    pub session_id: Option<Uuid>,
    pub duration_minutes: i32,
    pub reflection: String,
    pub insight: Option<String>,
    pub emotional_state: Option<String>,
    pub save_to_journal: bool,
}

/// What `reflect` stored.
pub struct Reflected {
    pub reflection: meditation_reflection::Model,
    pub session: session::Model,
    pub journal_entry: Option<entity::journal_entry::Model>,
}

/// Completes the given or the learner's open MEDITATION session (or records a completed one of
/// `duration_minutes` ending now), stores the reflection on it, and with `save_to_journal` also a
/// MEDITATION journal entry tagged `meditative` and the emotional state. One reflection per
/// session: a second is CONFLICT.
pub async fn reflect(
    txn: &DatabaseTransaction,
    learner: &LearnerScope,
    new: NewReflection,
    now: DateTime<Utc>,
) -> ApiResult<Reflected> {
    lock_learner(txn, learner).await?;
    let session = match new.session_id {
        Some(id) => {
            let s =
                owned_by::<session::Entity, _>(txn, learner, id).await?.ok_or(ApiError::NotFound("session".into()))?;
            if s.kind != SessionKind::Meditation {
                return Err(ApiError::bad_input("sessionId", "is not a MEDITATION session"));
            }
            s
        }
        None => match open_session(txn, learner, SessionKind::Meditation).await? {
            Some(s) => s,
            None => {
                let started = now - TimeDelta::minutes(i64::from(new.duration_minutes));
                super::session::start(txn, learner, SessionKind::Meditation, started, now).await?
            }
        },
    };
    let taken = meditation_reflection::Entity::find()
        .filter(meditation_reflection::Column::SessionId.eq(session.id))
        .one(txn)
        .await?;
    if taken.is_some() {
        return Err(ApiError::Conflict("this meditation session already has a reflection".into()));
    }
    let session = super::session::end(txn, session, now).await?;
    let journal_entry = if new.save_to_journal {
        let mut tags = vec!["meditative".to_owned()];
        if let Some(state) = &new.emotional_state
            && !tags.contains(state)
        {
            tags.push(state.clone());
        }
        let entry = NewEntry {
            content: new.reflection.clone(),
            mood_tags: tags,
            embedding: None,
            source: entity::journal_entry::JournalSource::Meditation,
            idempotency_key: None,
        };
        match journal::create(txn, learner, entry, now).await? {
            Stored::New(e) | Stored::Replayed(e) => Some(e),
        }
    } else {
        None
    };
    let reflection = meditation_reflection::ActiveModel {
        id: Set(Uuid::now_v7()),
        learner_id: Set(learner.id()),
        session_id: Set(session.id),
        duration_minutes: Set(new.duration_minutes),
        reflection: Set(new.reflection),
        insight: Set(new.insight),
        emotional_state: Set(new.emotional_state),
        journal_entry_id: Set(journal_entry.as_ref().map(|e| e.id)),
        created_at: Set(now),
    }
    .insert(txn)
    .await?;
    Ok(Reflected { reflection, session, journal_entry })
}
