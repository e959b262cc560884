//! Scoped loading: every learner-owned read and write reaches its learner through these, so the
//! scope check (`Viewer::authorize`) cannot be forgotten.

use async_graphql::{Context, ID};
use entity::learner;
use sea_orm::prelude::Uuid;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::auth::Viewer;
use crate::error::ApiResult;
use crate::graphql::ids::{self, Kind};

/// The learner with this UUID, if the viewer may reach it.
pub async fn learner<C: ConnectionTrait>(db: &C, viewer: &Viewer, id: Uuid) -> ApiResult<learner::Model> {
    if matches!(viewer, Viewer::Anonymous) {
        return viewer.authorize(None);
    }
    let found = viewer.authorize(learner::Entity::find_by_id(id).one(db).await?)?;
    record(&found);
    Ok(found)
}

/// Names the learner in the current span (mutations declare a `learner_id` field), so every log
/// line of a write says whose data it touched.
fn record(l: &learner::Model) {
    tracing::Span::current().record("learner_id", tracing::field::display(l.id));
}

/// The learner named by a global id argument, if the viewer may reach it.
pub async fn learner_by_gid<C: ConnectionTrait>(
    db: &C,
    viewer: &Viewer,
    field: &str,
    id: &ID,
) -> ApiResult<learner::Model> {
    let uuid = ids::decode(field, id, Kind::Learner)?;
    learner(db, viewer, uuid).await
}

pub async fn learner_by_external_id<C: ConnectionTrait>(
    db: &C,
    viewer: &Viewer,
    external_id: &str,
) -> ApiResult<learner::Model> {
    if matches!(viewer, Viewer::Anonymous) {
        return viewer.authorize(None);
    }
    let found = learner::Entity::find().filter(learner::Column::ExternalId.eq(external_id)).one(db).await?;
    let found = viewer.authorize(found)?;
    record(&found);
    Ok(found)
}

/// For queries: a missing learner is `null` for privileged viewers (and still FORBIDDEN for
/// learner tokens, so they cannot tell a missing learner from another learner's).
pub fn optional(result: ApiResult<learner::Model>) -> ApiResult<Option<learner::Model>> {
    match result {
        Ok(l) => Ok(Some(l)),
        Err(crate::error::ApiError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The state and viewer of a resolver, in one call.
pub fn parts<'a>(ctx: &Context<'a>) -> ApiResult<(&'a super::AppState, &'a Viewer)> {
    Ok((super::state(ctx)?, super::viewer(ctx)))
}

/// The learner that owns a row being resolved (`Goal.learner`, `Attempt.learner`, …), through the
/// same scope check as every other read.
pub async fn owner(ctx: &Context<'_>, learner_id: Uuid) -> ApiResult<super::learner::Learner> {
    let (state, viewer) = parts(ctx)?;
    learner(&state.db, viewer, learner_id).await.map(super::learner::Learner)
}
