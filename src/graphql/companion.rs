//! The wellbeing companion: agent conversation state, chat messages and mentor selections.

use async_graphql::{Context, Enum, ID, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::activity::ActivityKind;
use entity::{chat_message, conversation_state, mentor_selection};
use sea_orm::{ColumnTrait, QueryFilter};

use super::access::{self, LearnerScope, of_learner, parts};
use super::ids::{self, Kind};
use super::loaders;
use super::page;
use super::session::Session;
use crate::domain::validate;
use crate::error::{ApiError, ApiResult};
use crate::store;
use crate::store::companion::{MAX_MESSAGE_CHARS, MAX_MESSAGES_PER_POST, NewMessage, NewState};
use crate::store::idempotent::Stored;

/// Most conversation states (session keys) one learner may have.
pub const MAX_STATES: usize = 100;

/// An AI agent's saved state of a conversation with the learner.
pub struct ConversationState(conversation_state::Model);

/// An AI agent's saved state of a conversation with the learner.
#[Object]
impl ConversationState {
    /// The conversation's key (default `default`).
    async fn session_key(&self) -> &str {
        &self.0.session_key
    }
    /// The agent's state, as saved (free-form JSON).
    async fn state(&self) -> Json<&serde_json::Value> {
        Json(&self.0.state)
    }
    /// The agent that answered last.
    async fn last_agent(&self) -> Option<&str> {
        self.0.last_agent.as_deref()
    }
    /// 1 for the first save, +1 on each save; pass it as `expectedVersion` to save safely.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// When it was first saved.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it was last saved.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// Who wrote a chat message.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::chat_message::ChatRole")]
pub enum ChatRole {
    /// The learner.
    User,
    /// The companion (an AI agent).
    Assistant,
    /// Instructions to the agent.
    System,
}

/// A message in a CHAT session.
pub struct ChatMessage {
    scope: LearnerScope,
    row: chat_message::Model,
}

impl ChatMessage {
    pub fn new(scope: LearnerScope, row: chat_message::Model) -> Self {
        ChatMessage { scope, row }
    }
}

/// A message in a CHAT session.
#[Object]
impl ChatMessage {
    /// Global id (opaque).
    pub async fn id(&self) -> ID {
        ids::encode(Kind::ChatMessage, self.row.id)
    }
    /// Who wrote it.
    async fn role(&self) -> ChatRole {
        self.row.role.into()
    }
    /// The text.
    async fn content(&self) -> &str {
        &self.row.content
    }
    /// The persona the agent spoke as, if any.
    async fn agent_persona(&self) -> Option<&str> {
        self.row.agent_persona.as_deref()
    }
    /// 1, 2, 3, … within the session.
    async fn position(&self) -> i32 {
        self.row.position
    }
    /// When it was stored.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    /// The CHAT session it belongs to.
    async fn session(&self) -> Option<Session> {
        Some(Session::by_id(self.scope.clone(), self.row.session_id, loaders::SessionOf::Message))
    }
}

/// A mentor the learner chose in a chat session.
pub struct MentorSelection(mentor_selection::Model);

/// A mentor the learner chose in a chat session.
#[Object]
impl MentorSelection {
    /// Global id (opaque).
    pub async fn id(&self) -> ID {
        ids::encode(Kind::MentorSelection, self.0.id)
    }
    /// The mentor (the client's key).
    async fn mentor_id(&self) -> &str {
        &self.0.mentor_id
    }
    /// What the learner was talking about when choosing.
    async fn context_keywords(&self) -> Option<&str> {
        self.0.context_keywords.as_deref()
    }
    /// When it was chosen.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

impl MentorSelection {
    pub fn new(_scope: LearnerScope, row: mentor_selection::Model) -> Self {
        MentorSelection(row)
    }
}

/// The messages of a session, oldest first (`Session.messages`).
pub async fn messages_of(
    ctx: &Context<'_>,
    scope: &LearnerScope,
    session_id: sea_orm::prelude::Uuid,
    first: Option<i32>,
    after: Option<ID>,
) -> ApiResult<Vec<ChatMessage>> {
    let n = validate::page_size(first, page::DEFAULT_PAGE)?;
    let rows = match after {
        // Paging one session: one query for this connection.
        Some(after) => {
            let (state, viewer) = parts(ctx)?;
            let (last, _) =
                access::owned::<chat_message::Entity, _>(&state.reader, viewer, "after", &after, Kind::ChatMessage)
                    .await?;
            use sea_orm::{QueryOrder, QuerySelect};
            of_learner::<chat_message::Entity>(scope)
                .filter(chat_message::Column::SessionId.eq(session_id))
                .filter(chat_message::Column::Position.gt(last.position))
                .order_by_asc(chat_message::Column::Position)
                .limit(n)
                .all(&state.reader)
                .await?
        }
        None => loaders::children::<chat_message::Entity>(ctx, scope, session_id, n).await?,
    };
    Ok(rows.into_iter().map(|m| ChatMessage::new(scope.clone(), m)).collect())
}

/// The mentor selections of a session, oldest first (`Session.mentorSelections`).
pub async fn mentor_selections_of(
    ctx: &Context<'_>,
    scope: &LearnerScope,
    session_id: sea_orm::prelude::Uuid,
    first: Option<i32>,
) -> ApiResult<Vec<MentorSelection>> {
    let n = validate::page_size(first, page::DEFAULT_PAGE)?;
    let rows = loaders::children::<mentor_selection::Entity>(ctx, scope, session_id, n).await?;
    Ok(rows.into_iter().map(MentorSelection).collect())
}

/// The companion fields of `Learner`.
pub struct LearnerCompanion(pub LearnerScope);

/// The companion fields of `Learner`.
#[Object]
impl LearnerCompanion {
    /// The agent state saved under `sessionKey`; null when none is.
    async fn conversation_state(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The conversation's key (null or left out: `default`).")] session_key: Option<String>,
    ) -> ApiResult<Option<ConversationState>> {
        let key = validate::lookup("sessionKey", session_key.unwrap_or_else(|| "default".to_owned()))?;
        Ok(loaders::state_by_key(ctx, &self.0, &key).await?.map(ConversationState))
    }

    /// Every saved agent state, by session key (at most 100 per learner).
    #[graphql(complexity = "MAX_STATES * child_complexity.max(1) + 1")]
    async fn conversation_states(&self, ctx: &Context<'_>) -> ApiResult<Vec<ConversationState>> {
        let rows = loaders::all_of::<conversation_state::Entity>(ctx, &self.0).await?;
        Ok(rows.into_iter().take(MAX_STATES).map(ConversationState).collect())
    }

    /// CHAT sessions, newest first (by `startedAt`).
    #[graphql(complexity = "page::cost(first, child_complexity)")]
    async fn chat_sessions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1..=100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge of the previous page.")] after: Option<String>,
    ) -> ApiResult<page::Connection<Session>> {
        super::session::sessions_of(ctx, &self.0, first, after, Some(super::session::SessionKind::Chat)).await
    }
}

/// An agent state to save.
#[derive(InputObject)]
pub struct SaveConversationStateInput {
    /// The learner.
    pub learner_id: ID,
    /// The conversation's key, 1..=128 characters (default `default`).
    pub session_key: Option<String>,
    /// The agent's state (free-form JSON, at most the configured size).
    pub state: Json<serde_json::Value>,
    /// The agent that answered last (at most 128 characters).
    pub last_agent: Option<String>,
    /// The `version` the writer read (0: it expects no state yet); if another save came first,
    /// this one is refused with CONFLICT and nothing changes. Left out, the save always wins.
    pub expected_version: Option<i32>,
}

/// The result of `saveConversationState`.
#[derive(SimpleObject)]
pub struct SaveConversationStatePayload {
    /// The state as saved.
    pub conversation_state: ConversationState,
}

/// The agent state to clear.
#[derive(InputObject)]
pub struct ClearConversationStateInput {
    /// The learner.
    pub learner_id: ID,
    /// The conversation's key (default `default`).
    pub session_key: Option<String>,
}

/// The result of `clearConversationState`.
#[derive(SimpleObject)]
pub struct ClearConversationStatePayload {
    /// True when a state was there to clear.
    pub cleared: bool,
}

/// One message to append.
#[derive(InputObject)]
pub struct ChatMessageInput {
    /// Who wrote it.
    pub role: ChatRole,
    /// The text (not blank; at most 20,000 characters).
    pub content: String,
    /// The persona the agent spoke as (at most 128 characters).
    pub agent_persona: Option<String>,
}

/// Messages to append to a chat.
#[derive(InputObject)]
pub struct PostChatMessagesInput {
    /// The learner.
    pub learner_id: ID,
    /// 1..=50 messages, appended in this order.
    pub messages: Vec<ChatMessageInput>,
    /// One of the learner's open CHAT sessions; left out, the learner's open CHAT session (one is
    /// started when none is open).
    pub session_id: Option<ID>,
    /// A retry with the same key for the same learner returns the first call's session and
    /// messages and appends nothing.
    pub idempotency_key: Option<String>,
}

/// The result of `postChatMessages`.
#[derive(SimpleObject)]
pub struct PostChatMessagesPayload {
    /// The CHAT session the messages went to.
    pub session: Session,
    /// The messages as stored, in order.
    pub messages: Vec<ChatMessage>,
}

/// A mentor choice to record.
#[derive(InputObject)]
pub struct RecordMentorSelectionInput {
    /// The learner.
    pub learner_id: ID,
    /// One of the learner's CHAT sessions.
    pub session_id: ID,
    /// The mentor (1..=128 characters).
    pub mentor_id: String,
    /// What the learner was talking about (at most 10,000 characters).
    pub context_keywords: Option<String>,
}

/// The result of `recordMentorSelection`.
#[derive(SimpleObject)]
pub struct RecordMentorSelectionPayload {
    /// The selection as stored.
    pub selection: MentorSelection,
}

fn opt_key(field: &str, v: Option<String>) -> ApiResult<Option<String>> {
    v.map(|v| validate::key(field, &v, validate::MAX_KEY_CHARS)).transpose()
}

#[derive(Default)]
pub struct CompanionMutation;

#[Object]
impl CompanionMutation {
    /// Saves an agent's conversation state for the learner under a session key.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn save_conversation_state(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The learner, the session key, the state and the version the writer read.")]
        input: SaveConversationStateInput,
    ) -> ApiResult<SaveConversationStatePayload> {
        let state = parts(ctx)?.0;
        let Json(value) = input.state;
        validate::json_size("state", &value, state.config.max_json_bytes)?;
        if let Some(v) = input.expected_version
            && v < 0
        {
            return Err(ApiError::bad_input("expectedVersion", "must not be negative"));
        }
        let new = NewState {
            session_key: store::companion::session_key(input.session_key)?,
            state: value,
            last_agent: opt_key("lastAgent", input.last_agent)?,
            expected_version: input.expected_version,
        };
        let now = state.clock.now();
        let (txn, scope) = access::write_learner(ctx, "learnerId", &input.learner_id).await?;
        let saved = store::companion::save_state(&txn, &scope, new, MAX_STATES, now).await?;
        txn.commit().await?;
        Ok(SaveConversationStatePayload { conversation_state: ConversationState(saved) })
    }

    /// Clears an agent's state; clearing a missing one is not an error.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn clear_conversation_state(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The learner and the session key.")] input: ClearConversationStateInput,
    ) -> ApiResult<ClearConversationStatePayload> {
        let key = store::companion::session_key(input.session_key)?;
        let (txn, scope) = access::write_learner(ctx, "learnerId", &input.learner_id).await?;
        let cleared = store::companion::clear_state(&txn, &scope, &key).await?;
        txn.commit().await?;
        Ok(ClearConversationStatePayload { cleared })
    }

    /// Appends messages, in order, to the given or the learner's open CHAT session (starting one
    /// when none is open). Concurrent first posts of one learner share one session.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn post_chat_messages(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The learner, the messages and the session.")] input: PostChatMessagesInput,
    ) -> ApiResult<PostChatMessagesPayload> {
        if input.messages.is_empty() || input.messages.len() > MAX_MESSAGES_PER_POST {
            return Err(ApiError::bad_input("messages", format!("give 1..={MAX_MESSAGES_PER_POST} messages")));
        }
        let messages = input
            .messages
            .into_iter()
            .enumerate()
            .map(|(i, m)| {
                if m.content.trim().is_empty() {
                    return Err(ApiError::bad_input(&format!("messages[{i}].content"), "must not be empty"));
                }
                Ok(NewMessage {
                    role: m.role.into(),
                    content: validate::text(&format!("messages[{i}].content"), &m.content, MAX_MESSAGE_CHARS)?,
                    agent_persona: opt_key(&format!("messages[{i}].agentPersona"), m.agent_persona)?,
                })
            })
            .collect::<ApiResult<Vec<_>>>()?;
        let session_id = input.session_id.as_ref().map(|s| ids::decode("sessionId", s, Kind::Session)).transpose()?;
        let key = opt_key("idempotencyKey", input.idempotency_key)?;
        let now = parts(ctx)?.0.clock.now();
        let (mut txn, scope) = access::write_learner(ctx, "learnerId", &input.learner_id).await?;
        let (session, messages) =
            match store::companion::post_messages(&txn, &scope, session_id, messages, key, now).await? {
                Stored::New(posted) => {
                    for m in &posted.1 {
                        txn.activity(scope.id(), ActivityKind::ChatMessage, Some(m.id));
                    }
                    txn.commit().await?;
                    posted
                }
                Stored::Replayed(posted) => posted,
            };
        Ok(PostChatMessagesPayload {
            session: Session::new(scope.clone(), session),
            messages: messages.into_iter().map(|m| ChatMessage::new(scope.clone(), m)).collect(),
        })
    }

    /// Records the mentor the learner chose in a chat session.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn record_mentor_selection(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The learner, the chat session and the mentor.")] input: RecordMentorSelectionInput,
    ) -> ApiResult<RecordMentorSelectionPayload> {
        let session_id = ids::decode("sessionId", &input.session_id, Kind::Session)?;
        let mentor = validate::key("mentorId", &input.mentor_id, validate::MAX_KEY_CHARS)?;
        let keywords = input
            .context_keywords
            .map(|k| validate::text("contextKeywords", &k, validate::MAX_TEXT_CHARS))
            .transpose()?;
        let now = parts(ctx)?.0.clock.now();
        let (txn, scope) = access::write_learner(ctx, "learnerId", &input.learner_id).await?;
        let selection = store::companion::select_mentor(&txn, &scope, session_id, mentor, keywords, now).await?;
        txn.commit().await?;
        Ok(RecordMentorSelectionPayload { selection: MentorSelection(selection) })
    }
}
