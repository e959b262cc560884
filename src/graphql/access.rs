//! The one scope gate. A `LearnerScope` proves "this viewer may touch this learner"; only this
//! module can make one, and every learner-owned read and write starts from one:
//!
//! - reads: `learner*` for the learner itself, `of_learner::<E>` for a learner's rows,
//!   `owned::<E>` for a row named by id (its learner is checked), `owned_by::<E>` for a row that
//!   must belong to an already scoped learner;
//! - writes: `write_learner`, `write_owned::<E>` and `write_new_learner` check scope and open the
//!   write transaction in one call, so a write cannot start unchecked or drop its SQLite turn.
//!
//! A learner token asking for another learner, or for a row of another learner, gets the answer it
//! gets for a missing one (FORBIDDEN), so it cannot probe what exists.

use std::sync::Arc;

use async_graphql::{Context, ID};
use chrono_tz::Tz;
use entity::{
    attempt, badge, chat_message, chat_post, cognitive_metric, cognitive_metric_record, conversation_state, event,
    exercise_stat, goal, goal_profile_version, interest, journal_corpus, journal_entry, journal_follow_up,
    journal_mood_tag, learner, learner_progress, meditation_reflection, mentor_selection, objective_progress,
    portfolio_item, practice_day, preference, profiling_answer_key, profiling_outcome, profiling_response,
    profiling_session, session, struggle,
};
use sea_orm::prelude::Uuid;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PrimaryKeyTrait, QueryFilter, Select};

use super::AppState;
use super::ids::{self, Kind};
use crate::auth::Viewer;
use crate::db::WriteTxn;
use crate::error::{ApiError, ApiResult};

/// A learner the current viewer may reach. Cheap to clone; every object resolved under a learner
/// carries it, so nested fields need no second check and no second query.
#[derive(Clone, Debug)]
pub struct LearnerScope(Arc<learner::Model>);

impl LearnerScope {
    pub fn id(&self) -> Uuid {
        self.0.id
    }

    pub fn model(&self) -> &learner::Model {
        &self.0
    }

    /// The learner's time zone. Names are validated on write, so an unknown stored name is a
    /// fault of ours: logged, and INTERNAL rather than a silent UTC.
    pub fn time_zone(&self) -> ApiResult<Tz> {
        self.0.time_zone.parse().map_err(|_| {
            tracing::error!(learner_id = %self.0.id, time_zone = %self.0.time_zone, "stored time zone is not an IANA name");
            ApiError::Internal
        })
    }

    /// A learner reached by the operator's own commands (`learngraph import`), which run with the
    /// authority of whoever holds the database URL, not of a request's viewer.
    pub fn for_operator(row: learner::Model) -> LearnerScope {
        LearnerScope(Arc::new(row))
    }

    /// The same learner after a write changed its row.
    pub fn updated(&self, row: learner::Model) -> ApiResult<LearnerScope> {
        if row.id != self.0.id {
            return Err(ApiError::Internal);
        }
        Ok(LearnerScope(Arc::new(row)))
    }
}

/// An entity whose rows belong to one learner through a `learner_id` column.
pub trait LearnerOwned: EntityTrait {
    /// What a client calls one row, for NOT_FOUND messages.
    const NAME: &'static str;
    fn learner_column() -> Self::Column;
    fn owner(row: &Self::Model) -> Uuid;
}

macro_rules! learner_owned {
    ($($module:ident => $name:literal),* $(,)?) => {$(
        impl LearnerOwned for $module::Entity {
            const NAME: &'static str = $name;
            fn learner_column() -> Self::Column {
                $module::Column::LearnerId
            }
            fn owner(row: &Self::Model) -> Uuid {
                row.learner_id
            }
        }
    )*};
}

learner_owned! {
    goal => "goal",
    goal_profile_version => "goal profile version",
    event => "event",
    session => "session",
    attempt => "attempt",
    practice_day => "practice day",
    exercise_stat => "exercise statistic",
    learner_progress => "progress",
    preference => "preference",
    interest => "interest",
    struggle => "struggle",
    cognitive_metric => "cognitive metric",
    cognitive_metric_record => "cognitive metric record",
    objective_progress => "objective",
    badge => "badge",
    journal_corpus => "journal",
    journal_entry => "journal entry",
    journal_mood_tag => "mood tag",
    journal_follow_up => "follow-up",
    conversation_state => "conversation state",
    chat_post => "chat post",
    chat_message => "chat message",
    mentor_selection => "mentor selection",
    meditation_reflection => "meditation reflection",
    profiling_session => "profiling session",
    profiling_response => "profiling response",
    profiling_answer_key => "profiling answer key",
    profiling_outcome => "profiling outcome",
    portfolio_item => "portfolio item",
}

/// The rows of `E` that belong to a scoped learner.
pub fn of_learner<E: LearnerOwned>(scope: &LearnerScope) -> Select<E> {
    E::find().filter(E::learner_column().eq(scope.id()))
}

/// The row of `E` with this id, if it belongs to the scoped learner.
pub async fn owned_by<E, C>(db: &C, scope: &LearnerScope, id: Uuid) -> ApiResult<Option<E::Model>>
where
    E: LearnerOwned,
    E::PrimaryKey: PrimaryKeyTrait<ValueType = Uuid>,
    C: ConnectionTrait,
{
    Ok(E::find_by_id(id).filter(E::learner_column().eq(scope.id())).one(db).await?)
}

/// The row of `E` named by a global id, with its learner, if the viewer may reach that learner.
/// A row of another learner and a missing row give a learner token the same FORBIDDEN; privileged
/// viewers get NOT_FOUND for a missing row.
pub async fn owned<E, C>(
    db: &C,
    viewer: &Viewer,
    field: &str,
    gid: &ID,
    kind: Kind,
) -> ApiResult<(E::Model, LearnerScope)>
where
    E: LearnerOwned,
    E::PrimaryKey: PrimaryKeyTrait<ValueType = Uuid>,
    C: ConnectionTrait,
{
    let uuid = ids::decode(field, gid, kind)?;
    owned_uuid::<E, C>(db, viewer, uuid).await
}

/// `owned` for an already decoded id.
pub async fn owned_uuid<E, C>(db: &C, viewer: &Viewer, uuid: Uuid) -> ApiResult<(E::Model, LearnerScope)>
where
    E: LearnerOwned,
    E::PrimaryKey: PrimaryKeyTrait<ValueType = Uuid>,
    C: ConnectionTrait,
{
    if matches!(viewer, Viewer::Anonymous) {
        return Err(unauthenticated());
    }
    match E::find_by_id(uuid).one(db).await? {
        Some(row) => {
            let scope = learner(db, viewer, E::owner(&row)).await?;
            Ok((row, scope))
        }
        None if viewer.is_privileged() => Err(ApiError::NotFound(E::NAME.into())),
        None => Err(ApiError::Forbidden),
    }
}

fn unauthenticated() -> ApiError {
    ApiError::Unauthenticated("a bearer token is required".into())
}

/// The learner with this UUID, if the viewer may reach it.
pub async fn learner<C: ConnectionTrait>(db: &C, viewer: &Viewer, id: Uuid) -> ApiResult<LearnerScope> {
    if matches!(viewer, Viewer::Anonymous) {
        return Err(unauthenticated());
    }
    authorize(viewer, learner::Entity::find_by_id(id).one(db).await?)
}

/// The learner named by a global id argument, if the viewer may reach it.
pub async fn learner_by_gid<C: ConnectionTrait>(
    db: &C,
    viewer: &Viewer,
    field: &str,
    id: &ID,
) -> ApiResult<LearnerScope> {
    let uuid = ids::decode(field, id, Kind::Learner)?;
    learner(db, viewer, uuid).await
}

/// The learner with this externalId, if the viewer may reach it.
pub async fn learner_by_external_id(ctx: &Context<'_>, viewer: &Viewer, external_id: &str) -> ApiResult<LearnerScope> {
    if matches!(viewer, Viewer::Anonymous) {
        return Err(unauthenticated());
    }
    let found = super::loaders::learner_by_external_id(ctx, external_id).await?;
    authorize(viewer, found)
}

/// The learner a learner token belongs to (None for staff, service and open mode, and for a
/// learner token whose learner does not exist yet).
pub async fn own_learner(ctx: &Context<'_>, viewer: &Viewer) -> ApiResult<Option<LearnerScope>> {
    match viewer {
        // Its own learner, so a missing one is simply not created yet (null), not another's.
        Viewer::Learner { external_id } => {
            let found = super::loaders::learner_by_external_id(ctx, external_id).await?;
            found.map(|row| authorize(viewer, Some(row))).transpose()
        }
        Viewer::Anonymous => Err(unauthenticated()),
        _ => Ok(None),
    }
}

/// The scope check itself. A learner asking for another learner gets FORBIDDEN whether that learner
/// exists or not; privileged viewers get NOT_FOUND for a missing one.
fn authorize(viewer: &Viewer, found: Option<learner::Model>) -> ApiResult<LearnerScope> {
    let found = viewer.authorize(found)?;
    super::audit::note(found.id);
    // Mutations declare a `learner_id` span field: every log line of a write names whose data it touched.
    tracing::Span::current().record("learner_id", tracing::field::display(found.id));
    Ok(LearnerScope(Arc::new(found)))
}

/// For queries: a missing learner is `null` for privileged viewers (and still FORBIDDEN for
/// learner tokens, so they cannot tell a missing learner from another learner's).
pub fn optional<T>(result: ApiResult<T>) -> ApiResult<Option<T>> {
    match result {
        Ok(found) => Ok(Some(found)),
        Err(ApiError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The state and viewer of a resolver, in one call.
pub fn parts<'a>(ctx: &Context<'a>) -> ApiResult<(&'a AppState, &'a Viewer)> {
    Ok((super::state(ctx)?, super::viewer(ctx)))
}

/// Opens a write on the learner named by a global id argument.
pub async fn write_learner(ctx: &Context<'_>, field: &str, id: &ID) -> ApiResult<(WriteTxn, LearnerScope)> {
    let (state, viewer) = parts(ctx)?;
    let uuid = ids::decode(field, id, Kind::Learner)?;
    let mut txn = state.begin_write().await?;
    let scope = learner(&*txn, viewer, uuid).await?;
    txn.touches(scope.id());
    Ok((txn, scope))
}

/// Opens a write on a learner by UUID; `None` (and an open transaction) when a privileged viewer
/// names a learner that does not exist (repeated erasure).
pub async fn write_learner_if_exists(ctx: &Context<'_>, id: Uuid) -> ApiResult<(WriteTxn, Option<LearnerScope>)> {
    let (state, viewer) = parts(ctx)?;
    let mut txn = state.begin_write().await?;
    let scope = optional(learner(&*txn, viewer, id).await)?;
    if let Some(s) = &scope {
        txn.touches(s.id());
    }
    Ok((txn, scope))
}

/// Opens a write on the row of `E` named by a global id, read inside the transaction.
pub async fn write_owned<E>(
    ctx: &Context<'_>,
    field: &str,
    id: &ID,
    kind: Kind,
) -> ApiResult<(WriteTxn, LearnerScope, E::Model)>
where
    E: LearnerOwned,
    E::PrimaryKey: PrimaryKeyTrait<ValueType = Uuid>,
{
    let (state, viewer) = parts(ctx)?;
    let uuid = ids::decode(field, id, kind)?;
    let mut txn = state.begin_write().await?;
    let (row, scope) = owned_uuid::<E, _>(&*txn, viewer, uuid).await?;
    txn.touches(scope.id());
    Ok((txn, scope, row))
}

/// Opens the write that may create the learner with this externalId (`ensureLearner`): a learner
/// token may create only itself. The caller makes the scope with `created_learner`.
pub async fn write_new_learner(ctx: &Context<'_>, external_id: &str) -> ApiResult<NewLearnerWrite> {
    let (state, viewer) = parts(ctx)?;
    viewer.may_ensure(external_id)?;
    Ok(NewLearnerWrite { txn: state.begin_write().await?, external_id: external_id.to_owned() })
}

/// A write that may create one learner; only that learner can be scoped from it.
pub struct NewLearnerWrite {
    pub txn: WriteTxn,
    external_id: String,
}

impl NewLearnerWrite {
    /// The scope of the learner this write created or found (its externalId must be the one
    /// checked when the write was opened).
    pub fn scope(&self, row: learner::Model) -> ApiResult<LearnerScope> {
        if row.external_id != self.external_id {
            return Err(ApiError::Internal);
        }
        tracing::Span::current().record("learner_id", tracing::field::display(row.id));
        super::audit::note(row.id);
        Ok(LearnerScope(Arc::new(row)))
    }
}

/// Proof that the viewer may reach every learner (staff and open mode): lists of all learners make
/// each learner's scope from it.
pub struct AllLearners(());

/// Checks that the viewer may list every learner.
pub fn all_learners(viewer: &Viewer) -> ApiResult<AllLearners> {
    viewer.require_staff()?;
    Ok(AllLearners(()))
}

impl AllLearners {
    pub fn scope(&self, row: learner::Model) -> LearnerScope {
        super::audit::note(row.id);
        LearnerScope(Arc::new(row))
    }
}
