//! `subscription learnerActivity`: a learner's activities as they commit, after a replay of what
//! happened since a cursor. The fan-out is `crate::live`; this module turns one subscriber's
//! broadcast receiver into an ordered, gap-free stream (see `Feed`).

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object, Subscription};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use futures_util::Stream;
use sea_orm::DatabaseConnection;
use tokio::sync::broadcast;

use super::access::{self, LearnerScope, parts};
use super::companion::ChatMessage;
use super::event::LearnerEvent;
use super::goal::Goal;
use super::journal::JournalEntry;
use super::learner::Learner;
use super::meditation::MeditationReflection;
use super::practice::{Attempt, Streak};
use super::profiling::ProfilingSession;
use super::session::Session;
use crate::domain::streak::local_date;
use crate::error::{ApiError, ApiResult};
use crate::store;
use crate::store::activity::{Item, Subject};
use crate::store::audit::{Access, Actor};

/// Activities read per query while replaying.
const REPLAY_PAGE: u64 = 100;

/// What a learner did.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[graphql(remote = "entity::activity::ActivityKind")]
pub enum ActivityKind {
    /// An answer was recorded (`attempt`).
    Attempt,
    /// The answer was the first of a local day, so the streak may have changed (`streak`).
    Streak,
    /// Practice progress was reset (`streak` is zero again).
    ProgressReset,
    /// An interaction event was logged (`event`).
    Event,
    /// A session started (`session`).
    SessionStarted,
    /// A session ended (`session`).
    SessionEnded,
    /// A goal was created or changed, or its profile got a new version (`goal`).
    Goal,
    /// A journal entry was written (`journalEntry`).
    JournalEntry,
    /// A chat message was posted (`chatMessage`).
    ChatMessage,
    /// A meditation reflection was recorded (`meditationReflection`).
    MeditationReflection,
    /// A profiling session was completed (`profilingSession`).
    ProfilingCompleted,
}

/// One thing the learner did. The field for its kind holds the row it is about, read after the
/// write committed (null when that row has since been deleted); the other object fields are null.
pub struct Activity {
    scope: LearnerScope,
    item: Arc<Item>,
}

/// The opaque cursor of the activity with sequence number `seq`.
pub fn cursor(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("activity:{seq}"))
}

fn decode_cursor(cursor: &str) -> ApiResult<i64> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("activity:").and_then(|n| n.parse::<i64>().ok()))
        .filter(|n| *n >= 0)
        .ok_or_else(|| ApiError::bad_input("after", "not a cursor of learnerActivity"))
}

/// One thing the learner did. The field for its kind holds the row it is about, read after the
/// write committed (null when that row has since been deleted); the other object fields are null.
#[Object]
impl Activity {
    /// What happened.
    async fn kind(&self) -> ActivityKind {
        self.item.row.kind.into()
    }
    /// When it was recorded by the server.
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.item.row.occurred_at
    }
    /// Pass as `after` to resume right after this activity.
    async fn cursor(&self) -> String {
        cursor(self.item.row.seq)
    }
    /// The learner's activities are numbered 1, 2, 3, … in the order they committed.
    async fn sequence(&self) -> i64 {
        self.item.row.seq
    }
    /// The learner.
    async fn learner(&self) -> Learner {
        Learner::new(self.scope.clone())
    }
    /// On ATTEMPT: the attempt.
    async fn attempt(&self) -> Option<Attempt> {
        match &self.item.subject {
            Subject::Attempt(Some(row)) => Some(Attempt::new(self.scope.clone(), row.clone())),
            _ => None,
        }
    }
    /// On STREAK and PROGRESS_RESET: the learner's streak when the activity was delivered.
    async fn streak(&self, ctx: &Context<'_>) -> ApiResult<Option<Streak>> {
        let Subject::Streak(progress) = &self.item.subject else { return Ok(None) };
        let (state, _) = parts(ctx)?;
        let summary = progress.clone().map(store::practice::summary_of).unwrap_or_default();
        Ok(Some(Streak::at(summary, local_date(state.clock.now(), self.scope.time_zone()?))))
    }
    /// On EVENT: the event.
    async fn event(&self) -> Option<LearnerEvent> {
        match &self.item.subject {
            Subject::Event(Some(row)) => Some(LearnerEvent::new(self.scope.clone(), row.clone())),
            _ => None,
        }
    }
    /// On SESSION_STARTED and SESSION_ENDED: the session.
    async fn session(&self) -> Option<Session> {
        match &self.item.subject {
            Subject::Session(Some(row)) => Some(Session::new(self.scope.clone(), row.clone())),
            _ => None,
        }
    }
    /// On GOAL: the goal.
    async fn goal(&self) -> Option<Goal> {
        match &self.item.subject {
            Subject::Goal(Some(row)) => Some(Goal::new(self.scope.clone(), row.clone())),
            _ => None,
        }
    }
    /// On JOURNAL_ENTRY: the entry.
    async fn journal_entry(&self) -> Option<JournalEntry> {
        match &self.item.subject {
            Subject::JournalEntry(Some(row)) => Some(JournalEntry::new(self.scope.clone(), row.clone())),
            _ => None,
        }
    }
    /// On CHAT_MESSAGE: the message.
    async fn chat_message(&self) -> Option<ChatMessage> {
        match &self.item.subject {
            Subject::ChatMessage(Some(row)) => Some(ChatMessage::new(self.scope.clone(), row.clone())),
            _ => None,
        }
    }
    /// On MEDITATION_REFLECTION: the reflection.
    async fn meditation_reflection(&self) -> Option<MeditationReflection> {
        match &self.item.subject {
            Subject::MeditationReflection(Some(row)) => {
                Some(MeditationReflection::new(self.scope.clone(), row.clone()))
            }
            _ => None,
        }
    }
    /// On PROFILING_COMPLETED: the completed session.
    async fn profiling_session(&self) -> Option<ProfilingSession> {
        match &self.item.subject {
            Subject::ProfilingSession(Some(row)) => Some(ProfilingSession::new(self.scope.clone(), row.clone())),
            _ => None,
        }
    }
}

/// Live updates, over WebSocket at `/graphql` (graphql-transport-ws).
#[derive(Default)]
pub struct Subscription;

/// Live updates, over WebSocket at `/graphql` (graphql-transport-ws).
#[Subscription]
impl Subscription {
    /// The learner's activities as they commit, in order. With `after`, first everything since
    /// that cursor, then live, with no gap and no repeat at the seam: a client that reconnects
    /// with the last cursor it saw misses nothing. A learner token may subscribe to itself only.
    async fn learner_activity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The learner's global id.")] learner_id: ID,
        #[graphql(desc = "Only these kinds (default: every kind).")] kinds: Option<Vec<ActivityKind>>,
        #[graphql(desc = "The `cursor` of the last activity received: replay what came after it.")] after: Option<
            String,
        >,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Activity>> + use<>> {
        let (state, viewer) = parts(ctx)?;
        let after = after.as_deref().map(decode_cursor).transpose()?;
        let scope = access::learner_by_gid(&state.db, viewer, "learnerId", &learner_id).await?;
        if Actor::audited(viewer) {
            let txn = state.begin_write().await?;
            let access = Access { learner_id: scope.id(), write: false, fields: vec!["learnerActivity".into()] };
            store::audit::record(&*txn, &Actor::of(viewer), Some("learnerActivity"), &[access], state.clock.now())
                .await?;
            txn.commit().await?;
        }
        // Subscribe first, then read where to start: whatever commits after that read is either
        // broadcast to this receiver or read back from the feed.
        let rx = state.live.subscribe(scope.id()).await?;
        let head = store::activity::current(&state.db, scope.id()).await?;
        let last = match after {
            None => head,
            Some(seq) if seq > head => return Err(ApiError::bad_input("after", "not a cursor of this learner").into()),
            Some(seq) if seq < head => {
                let next = store::activity::next_stored(&state.db, scope.id(), seq).await?;
                if next != Some(seq + 1) {
                    return Err(ApiError::CursorExpired(
                        "the activities after this cursor are no longer kept (LEARNGRAPH_ACTIVITY_RETENTION_DAYS); \
                         read the learner's current state and subscribe without `after`"
                            .into(),
                    )
                    .into());
                }
                seq
            }
            Some(seq) => seq,
        };
        let feed = Feed {
            db: state.db.clone(),
            scope,
            kinds: kinds.map(|k| k.into_iter().map(entity::activity::ActivityKind::from).collect()),
            last,
            rx,
            queue: VecDeque::new(),
            replaying: after.is_some(),
            forgive_lag: after.is_some(),
            buffer: state.config.live_buffer,
            done: false,
        };
        let stream =
            futures_util::stream::unfold(feed, |mut feed| async move { feed.next().await.map(|item| (item, feed)) });
        Ok(futures_util::StreamExt::map(stream, |item| item.map_err(async_graphql::Error::from)))
    }
}

/// One subscriber's stream: replays from the feed, then follows the broadcast, delivering each
/// sequence number once and in order. A broadcast item past the next expected number means some
/// were missed (a lost notice, a listener reconnect): they are read back from the feed.
struct Feed {
    db: DatabaseConnection,
    scope: LearnerScope,
    kinds: Option<HashSet<entity::activity::ActivityKind>>,
    /// The last sequence number delivered or skipped.
    last: i64,
    rx: broadcast::Receiver<Arc<Item>>,
    queue: VecDeque<Arc<Item>>,
    /// Reading from the feed until it has nothing after `last`.
    replaying: bool,
    /// Behind right after the replay of `after`: the broadcast kept coming meanwhile, so one
    /// catch-up from the feed is normal. After that, falling behind ends the subscription.
    forgive_lag: bool,
    buffer: usize,
    done: bool,
}

impl Feed {
    async fn next(&mut self) -> Option<ApiResult<Activity>> {
        loop {
            if self.done {
                return None;
            }
            if let Some(item) = self.queue.pop_front() {
                if item.row.seq <= self.last {
                    continue;
                }
                self.last = item.row.seq;
                if self.kinds.as_ref().is_none_or(|k| k.contains(&item.row.kind)) {
                    return Some(Ok(Activity { scope: self.scope.clone(), item }));
                }
                continue;
            }
            if self.replaying {
                match store::activity::after(&self.db, self.scope.id(), self.last, None, REPLAY_PAGE).await {
                    Ok(page) if page.is_empty() => self.replaying = false,
                    Ok(page) => self.queue.extend(page.into_iter().map(Arc::new)),
                    Err(e) => {
                        tracing::error!(error = %e, learner_id = %self.scope.id(), "replaying activities failed");
                        self.done = true;
                        return Some(Err(ApiError::Internal));
                    }
                }
                continue;
            }
            match self.rx.recv().await {
                Ok(item) if item.row.seq <= self.last => {}
                Ok(item) if item.row.seq == self.last + 1 => self.queue.push_back(item),
                // Missed some: the feed has them (and this one), all committed.
                Ok(_) => self.replaying = true,
                // Behind because the replay took a while: catch up from the feed once more.
                Err(broadcast::error::RecvError::Lagged(_)) if self.forgive_lag => self.replaying = true,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    self.done = true;
                    return Some(Err(ApiError::SlowSubscriber(format!(
                        "this subscriber fell {missed} activities behind (the server keeps {} per learner); \
                         subscribe again with after: \"{}\" to continue",
                        self.buffer,
                        cursor(self.last)
                    ))));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
            self.forgive_lag = false;
        }
    }
}
