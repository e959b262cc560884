//! Goals and their versioned per-goal profiles.

use async_graphql::{Context, Enum, ID, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{goal, goal_profile_version, learner};
use sea_orm::prelude::Uuid;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};

use super::access::{self, parts};
use super::ids::{self, Kind};
use super::learner::Learner;
use crate::auth::Viewer;
use crate::domain::validate;
use crate::error::{ApiError, ApiResult, is_unique_violation};

/// Where a goal stands.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum GoalStatus {
    Active,
    Completed,
    Archived,
}

impl GoalStatus {
    fn as_str(self) -> &'static str {
        match self {
            GoalStatus::Active => "ACTIVE",
            GoalStatus::Completed => "COMPLETED",
            GoalStatus::Archived => "ARCHIVED",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "COMPLETED" => GoalStatus::Completed,
            "ARCHIVED" => GoalStatus::Archived,
            _ => GoalStatus::Active,
        }
    }
}

/// A learning goal of one learner, with the learner's profile for that goal.
pub struct Goal(pub goal::Model);

/// One stored version of a goal profile.
#[derive(SimpleObject)]
pub struct GoalProfileVersion {
    /// 1 for the first profile written, +1 for each update.
    pub version: i32,
    pub profile: Json<serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

#[Object]
impl Goal {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Goal, self.0.id)
    }
    /// The client's own key for this goal, unique per learner.
    async fn external_id(&self) -> Option<&str> {
        self.0.external_id.as_deref()
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn status(&self) -> GoalStatus {
        GoalStatus::parse(&self.0.status)
    }
    /// The learner's current profile for this goal (free-form JSON; `{}` until first written).
    async fn profile(&self) -> Json<serde_json::Value> {
        Json(self.0.profile.clone())
    }
    /// Version of `profile`: 0 until first written, +1 on every update.
    async fn profile_version(&self) -> i32 {
        self.0.profile_version
    }
    async fn profile_updated_at(&self) -> Option<DateTime<Utc>> {
        self.0.profile_updated_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// The learner this goal belongs to.
    async fn learner(&self, ctx: &Context<'_>) -> ApiResult<Learner> {
        access::owner(ctx, self.0.learner_id).await
    }
    /// Every stored version of the profile, newest first.
    async fn profile_history(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many versions, 1..=100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Only versions older than this one (for paging).")] before_version: Option<i32>,
    ) -> ApiResult<Vec<GoalProfileVersion>> {
        let (state, _) = parts(ctx)?;
        let limit = validate::page_size(first, 20)?;
        let mut select =
            goal_profile_version::Entity::find().filter(goal_profile_version::Column::GoalId.eq(self.0.id));
        if let Some(before) = before_version {
            select = select.filter(goal_profile_version::Column::Version.lt(before));
        }
        let rows =
            select.order_by(goal_profile_version::Column::Version, Order::Desc).limit(limit).all(&state.db).await?;
        Ok(rows
            .into_iter()
            .map(|v| GoalProfileVersion { version: v.version, profile: Json(v.profile), created_at: v.created_at })
            .collect())
    }
}

pub async fn goals_of(ctx: &Context<'_>, learner_id: Uuid, status: Option<GoalStatus>) -> ApiResult<Vec<Goal>> {
    let (state, _) = parts(ctx)?;
    let mut select = goal::Entity::find().filter(goal::Column::LearnerId.eq(learner_id));
    if let Some(status) = status {
        select = select.filter(goal::Column::Status.eq(status.as_str()));
    }
    let rows = select.order_by_asc(goal::Column::CreatedAt).order_by_asc(goal::Column::Id).all(&state.db).await?;
    Ok(rows.into_iter().map(Goal).collect())
}

pub async fn goal_of(
    ctx: &Context<'_>,
    learner_id: Uuid,
    id: Option<ID>,
    external_id: Option<String>,
) -> ApiResult<Option<Goal>> {
    let (state, _) = parts(ctx)?;
    let select = goal::Entity::find().filter(goal::Column::LearnerId.eq(learner_id));
    let select = match (id, external_id) {
        (Some(id), None) => select.filter(goal::Column::Id.eq(ids::decode("id", &id, Kind::Goal)?)),
        (None, Some(ext)) => select.filter(goal::Column::ExternalId.eq(validate::lookup("externalId", ext)?)),
        _ => return Err(ApiError::bad_input("id", "give exactly one of `id` and `externalId`")),
    };
    Ok(select.one(&state.db).await?.map(Goal))
}

/// A goal and its learner, if the viewer may reach them. A goal the viewer may not see is
/// reported like a missing one.
pub async fn scoped_goal<C: ConnectionTrait>(
    db: &C,
    viewer: &Viewer,
    field: &str,
    id: &ID,
) -> ApiResult<(goal::Model, learner::Model)> {
    let uuid = ids::decode(field, id, Kind::Goal)?;
    let found = goal::Entity::find_by_id(uuid).one(db).await?;
    match found {
        Some(g) => {
            let owner = access::learner(db, viewer, g.learner_id).await?;
            Ok((g, owner))
        }
        None if viewer.is_privileged() => Err(ApiError::NotFound("goal".into())),
        None => Err(viewer.authorize(None).err().unwrap_or(ApiError::Forbidden)),
    }
}

/// A goal that must belong to `learner_id` (for writes that attach to a goal).
pub async fn goal_of_learner<C: ConnectionTrait>(db: &C, learner_id: Uuid, field: &str, id: &ID) -> ApiResult<Uuid> {
    let uuid = ids::decode(field, id, Kind::Goal)?;
    let found = goal::Entity::find_by_id(uuid).filter(goal::Column::LearnerId.eq(learner_id)).one(db).await?;
    found.map(|g| g.id).ok_or_else(|| ApiError::NotFound("goal".into()))
}

#[derive(InputObject)]
pub struct CreateGoalInput {
    pub learner_id: ID,
    /// The client's own key for the goal, unique per learner (a duplicate is CONFLICT).
    pub external_id: Option<String>,
    /// 1..=200 characters.
    pub title: String,
    /// Default ACTIVE.
    pub status: Option<GoalStatus>,
    /// An initial profile (becomes version 1).
    pub profile: Option<Json<serde_json::Value>>,
}

#[derive(SimpleObject)]
pub struct GoalPayload {
    pub goal: Goal,
}

#[derive(InputObject)]
pub struct UpdateGoalInput {
    pub id: ID,
    pub title: Option<String>,
    pub status: Option<GoalStatus>,
}

#[derive(InputObject)]
pub struct UpdateGoalProfileInput {
    pub goal_id: ID,
    /// The new profile (free-form JSON, at most the configured size).
    pub profile: Json<serde_json::Value>,
    /// The `profileVersion` the writer read; if another write came first, the update is refused
    /// with CONFLICT and nothing changes.
    pub expected_version: Option<i32>,
}

#[derive(Default)]
pub struct GoalMutation;

#[Object]
impl GoalMutation {
    /// Creates a goal for a learner.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn create_goal(&self, ctx: &Context<'_>, input: CreateGoalInput) -> ApiResult<GoalPayload> {
        let (state, viewer) = parts(ctx)?;
        let title = validate::key("title", &input.title, validate::MAX_NAME_CHARS)?;
        let external_id =
            input.external_id.map(|e| validate::key("externalId", &e, validate::MAX_EXTERNAL_ID_CHARS)).transpose()?;
        if let Some(Json(p)) = &input.profile {
            validate::json_size("profile", p, state.config.max_json_bytes)?;
        }
        let now = state.clock.now();
        let (txn, _turn) = state.begin_write().await?;
        let owner = access::learner_by_gid(&txn, viewer, "learnerId", &input.learner_id).await?;
        let id = Uuid::now_v7();
        let (profile, version) = match input.profile {
            Some(Json(p)) => (p, 1),
            None => (serde_json::json!({}), 0),
        };
        let row = goal::ActiveModel {
            id: Set(id),
            learner_id: Set(owner.id),
            external_id: Set(external_id),
            title: Set(title),
            status: Set(input.status.unwrap_or(GoalStatus::Active).as_str().to_owned()),
            profile: Set(profile.clone()),
            profile_version: Set(version),
            profile_updated_at: Set((version > 0).then_some(now)),
            created_at: Set(now),
            updated_at: Set(now),
        };
        let created = match goal::Entity::insert(row).exec_with_returning(&txn).await {
            Ok(g) => g,
            Err(e) if is_unique_violation(&e) => {
                return Err(ApiError::Conflict("this learner already has a goal with that externalId".into()));
            }
            Err(e) => return Err(e.into()),
        };
        if version > 0 {
            insert_version(&txn, &created, now).await?;
        }
        txn.commit().await?;
        Ok(GoalPayload { goal: Goal(created) })
    }

    /// Changes a goal's title or status.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn update_goal(&self, ctx: &Context<'_>, input: UpdateGoalInput) -> ApiResult<GoalPayload> {
        let (state, viewer) = parts(ctx)?;
        let title = input.title.map(|t| validate::key("title", &t, validate::MAX_NAME_CHARS)).transpose()?;
        let (txn, _turn) = state.begin_write().await?;
        let (current, _) = scoped_goal(&txn, viewer, "id", &input.id).await?;
        let mut row: goal::ActiveModel = current.into();
        if let Some(t) = title {
            row.title = Set(t);
        }
        if let Some(s) = input.status {
            row.status = Set(s.as_str().to_owned());
        }
        row.updated_at = Set(state.clock.now());
        let updated = row.update(&txn).await?;
        txn.commit().await?;
        Ok(GoalPayload { goal: Goal(updated) })
    }

    /// Replaces a goal's profile, keeping the previous versions. With `expectedVersion`, a stale
    /// writer gets CONFLICT and nothing changes.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn update_goal_profile(&self, ctx: &Context<'_>, input: UpdateGoalProfileInput) -> ApiResult<GoalPayload> {
        let (state, viewer) = parts(ctx)?;
        let Json(profile) = input.profile;
        validate::json_size("profile", &profile, state.config.max_json_bytes)?;
        let now = state.clock.now();
        let (txn, _turn) = state.begin_write().await?;
        let (mut current, _) = scoped_goal(&txn, viewer, "goalId", &input.goal_id).await?;
        // Compare-and-set on the version: on PostgreSQL two writers may read the same version;
        // only one UPDATE matches it. A writer without expectedVersion re-reads and retries.
        loop {
            if let Some(expected) = input.expected_version
                && expected != current.profile_version
            {
                return Err(ApiError::Conflict(format!(
                    "profile is at version {}, not {expected}",
                    current.profile_version
                )));
            }
            let next = current.profile_version + 1;
            let result = goal::Entity::update_many()
                .col_expr(goal::Column::Profile, Expr::value(profile.clone()))
                .col_expr(goal::Column::ProfileVersion, Expr::value(next))
                .col_expr(goal::Column::ProfileUpdatedAt, Expr::value(now))
                .col_expr(goal::Column::UpdatedAt, Expr::value(now))
                .filter(goal::Column::Id.eq(current.id))
                .filter(goal::Column::ProfileVersion.eq(current.profile_version))
                .exec(&txn)
                .await?;
            if result.rows_affected == 1 {
                break;
            }
            current = goal::Entity::find_by_id(current.id).one(&txn).await?.ok_or(ApiError::NotFound("goal".into()))?;
        }
        let updated = goal::Entity::find_by_id(current.id).one(&txn).await?.ok_or(ApiError::Internal)?;
        insert_version(&txn, &updated, now).await?;
        txn.commit().await?;
        Ok(GoalPayload { goal: Goal(updated) })
    }
}

async fn insert_version<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    g: &goal::Model,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    goal_profile_version::ActiveModel {
        id: Set(Uuid::now_v7()),
        goal_id: Set(g.id),
        learner_id: Set(g.learner_id),
        version: Set(g.profile_version),
        profile: Set(g.profile.clone()),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}
