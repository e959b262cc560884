//! Goals and their versioned per-goal profiles.

use async_graphql::{Context, Enum, ID, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::activity::ActivityKind;
use entity::{goal, goal_profile_version};
use sea_orm::prelude::Uuid;
use sea_orm::{ColumnTrait, Order, QueryFilter, QueryOrder, QuerySelect};
use tokio::sync::OnceCell;

use super::access::{self, LearnerScope, of_learner, parts};
use super::fast::{Leaf, Leaves, List, id, json, text, text_opt, time, time_opt, value};
use super::ids::{self, Kind};
use super::learner::Learner;
use super::loaders::{self, GoalOf};
use super::page;
use crate::domain::validate;
use crate::error::{ApiError, ApiResult};
use crate::store;
use crate::store::goal::NewGoal;

/// Where a goal stands.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::goal::GoalStatus")]
pub enum GoalStatus {
    /// Being worked on (the default).
    Active,
    /// Reached.
    Completed,
    /// Put aside; kept for history.
    Archived,
}

/// A learning goal of one learner, with the learner's profile for that goal.
pub struct Goal {
    scope: LearnerScope,
    id: Uuid,
    row: OnceCell<goal::Model>,
    of: GoalOf,
}

impl Goal {
    pub fn new(scope: LearnerScope, row: goal::Model) -> Self {
        Goal { scope, id: row.id, row: OnceCell::new_with(Some(row)), of: GoalOf::Attempt }
    }

    /// A goal known only by its id (an attempt's or an event's, which the database keeps
    /// pointing at a goal of the same learner): `id` costs no query, any other field reads the row,
    /// batched with the request's other goals.
    pub fn by_id(scope: LearnerScope, id: Uuid, of: GoalOf) -> Self {
        Goal { scope, id, row: OnceCell::new(), of }
    }

    async fn row(&self, ctx: &Context<'_>) -> ApiResult<&goal::Model> {
        self.row
            .get_or_try_init(|| async {
                loaders::goal_row(ctx, &self.scope, self.id, self.of).await?.ok_or(ApiError::NotFound("goal".into()))
            })
            .await
    }
}

impl Leaves for Goal {
    fn leaf(&self, name: &str) -> Option<Leaf<'_>> {
        if name == "id" {
            return Some(id(Kind::Goal, self.id));
        }
        // A goal reached by id loads its row through its resolvers.
        let r = self.row.get()?;
        Some(match name {
            "externalId" => text_opt(r.external_id.as_deref()),
            "title" => text(&r.title),
            "status" => value(&GoalStatus::from(r.status)),
            // What `Json`'s resolver gives.
            "profile" => json(&r.profile),
            "profileVersion" => value(&r.profile_version),
            "profileUpdatedAt" => time_opt(&r.profile_updated_at),
            "createdAt" => time(&r.created_at),
            "updatedAt" => time(&r.updated_at),
            _ => return None,
        })
    }
}

/// One stored version of a goal profile.
#[derive(SimpleObject)]
pub struct GoalProfileVersion {
    /// 1 for the first profile written, +1 for each update.
    pub version: i32,
    /// The profile as it was written in this version.
    pub profile: Json<serde_json::Value>,
    /// When this version was written.
    pub created_at: DateTime<Utc>,
}

/// Most goals one `goals` list returns (and its default).
const MAX_GOALS: i32 = 100;

/// A learning goal of one learner, with the learner's profile for that goal.
#[Object]
impl Goal {
    /// Global id (opaque).
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Goal, self.id)
    }
    /// The client's own key for this goal, unique per learner.
    async fn external_id(&self, ctx: &Context<'_>) -> ApiResult<Option<&str>> {
        Ok(self.row(ctx).await?.external_id.as_deref())
    }
    /// What the learner wants to reach (1..=200 characters).
    async fn title(&self, ctx: &Context<'_>) -> ApiResult<&str> {
        Ok(&self.row(ctx).await?.title)
    }
    /// Where the goal stands.
    async fn status(&self, ctx: &Context<'_>) -> ApiResult<GoalStatus> {
        Ok(self.row(ctx).await?.status.into())
    }
    /// The learner's current profile for this goal (free-form JSON; `{}` until first written).
    async fn profile(&self, ctx: &Context<'_>) -> ApiResult<Json<&serde_json::Value>> {
        Ok(Json(&self.row(ctx).await?.profile))
    }
    /// Version of `profile`: 0 until first written, +1 on every update.
    async fn profile_version(&self, ctx: &Context<'_>) -> ApiResult<i32> {
        Ok(self.row(ctx).await?.profile_version)
    }
    /// When `profile` was last written; null until the first profile.
    async fn profile_updated_at(&self, ctx: &Context<'_>) -> ApiResult<Option<DateTime<Utc>>> {
        Ok(self.row(ctx).await?.profile_updated_at)
    }
    /// When the goal was created.
    async fn created_at(&self, ctx: &Context<'_>) -> ApiResult<DateTime<Utc>> {
        Ok(self.row(ctx).await?.created_at)
    }
    /// When the goal last changed (title, status or profile).
    async fn updated_at(&self, ctx: &Context<'_>) -> ApiResult<DateTime<Utc>> {
        Ok(self.row(ctx).await?.updated_at)
    }
    /// The learner this goal belongs to.
    async fn learner(&self) -> Learner {
        Learner::new(self.scope.clone())
    }
    /// Every stored version of the profile, newest first.
    #[graphql(complexity = "page::cost(first, child_complexity)")]
    async fn profile_history(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many versions, 1..=100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Only versions older than this one (for paging).")] before_version: Option<i32>,
    ) -> ApiResult<Vec<GoalProfileVersion>> {
        let (state, _) = parts(ctx)?;
        let limit = validate::page_size(first, page::DEFAULT_PAGE)?;
        let mut select = of_learner::<goal_profile_version::Entity>(&self.scope)
            .filter(goal_profile_version::Column::GoalId.eq(self.id));
        if let Some(before) = before_version {
            select = select.filter(goal_profile_version::Column::Version.lt(before));
        }
        let rows =
            select.order_by(goal_profile_version::Column::Version, Order::Desc).limit(limit).all(&state.reader).await?;
        Ok(rows
            .into_iter()
            .map(|v| GoalProfileVersion { version: v.version, profile: Json(v.profile), created_at: v.created_at })
            .collect())
    }
}

/// The goal fields of `Learner`.
pub struct LearnerGoals(pub LearnerScope);

/// The goal fields of `Learner`.
#[Object]
impl LearnerGoals {
    /// The learner's goals, oldest first, optionally only those with `status`.
    #[graphql(complexity = "page::cost_with(first, MAX_GOALS, child_complexity)")]
    async fn goals(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only goals with this status.")] status: Option<GoalStatus>,
        #[graphql(desc = "At most this many goals, 1..=100 (default 100).")] first: Option<i32>,
    ) -> ApiResult<List<Goal>> {
        let limit = usize::try_from(validate::page_size(first, MAX_GOALS)?).unwrap_or(usize::MAX);
        let rows = loaders::goals_of(ctx, &self.0, status.map(Into::into)).await?;
        Ok(List(rows.into_iter().take(limit).map(|g| Goal::new(self.0.clone(), g)).collect()))
    }

    /// One goal of this learner, by global `id` or by the client's `externalId`; null if none.
    async fn goal(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The goal's global id.")] id: Option<ID>,
        #[graphql(desc = "The client's own key for the goal.")] external_id: Option<String>,
    ) -> ApiResult<Option<Goal>> {
        let (state, _) = parts(ctx)?;
        let select = of_learner::<goal::Entity>(&self.0);
        let select = match (id, external_id) {
            (Some(id), None) => select.filter(goal::Column::Id.eq(ids::decode("id", &id, Kind::Goal)?)),
            (None, Some(ext)) => select.filter(goal::Column::ExternalId.eq(validate::lookup("externalId", ext)?)),
            _ => return Err(ApiError::bad_input("id", "give exactly one of `id` and `externalId`")),
        };
        Ok(select.one(&state.reader).await?.map(|g| Goal::new(self.0.clone(), g)))
    }
}

/// A goal to create.
#[derive(InputObject)]
pub struct CreateGoalInput {
    /// The learner the goal belongs to.
    pub learner_id: ID,
    /// The client's own key for the goal, unique per learner (a duplicate is CONFLICT).
    pub external_id: Option<String>,
    /// 1..=200 characters.
    pub title: String,
    /// Default ACTIVE.
    pub status: Option<GoalStatus>,
    /// An initial profile (becomes version 1), at most the configured JSON size.
    pub profile: Option<Json<serde_json::Value>>,
}

/// A goal after a change.
#[derive(SimpleObject)]
pub struct GoalPayload {
    /// The goal as stored.
    pub goal: Goal,
}

/// Changes to a goal; a field left out is unchanged.
#[derive(InputObject)]
pub struct UpdateGoalInput {
    /// The goal to change.
    pub id: ID,
    /// 1..=200 characters.
    pub title: Option<String>,
    /// The new status.
    pub status: Option<GoalStatus>,
}

/// A new profile for a goal.
#[derive(InputObject)]
pub struct UpdateGoalProfileInput {
    /// The goal whose profile is replaced.
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
    async fn create_goal(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The learner and the goal to create.")] input: CreateGoalInput,
    ) -> ApiResult<GoalPayload> {
        let state = parts(ctx)?.0;
        let new = NewGoal::parse(
            input.external_id,
            &input.title,
            input.status.map(Into::into),
            input.profile.map(|Json(p)| p),
            state.config.max_json_bytes,
        )?;
        let now = state.clock.now();
        let (mut txn, scope) = access::write_learner(ctx, "learnerId", &input.learner_id).await?;
        let created = store::goal::create(&txn, &scope, new, now).await?;
        txn.activity(scope.id(), ActivityKind::Goal, Some(created.id));
        txn.commit().await?;
        Ok(GoalPayload { goal: Goal::new(scope, created) })
    }

    /// Changes a goal's title or status.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn update_goal(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The goal and the fields to change.")] input: UpdateGoalInput,
    ) -> ApiResult<GoalPayload> {
        let title = input.title.map(|t| validate::key("title", &t, validate::MAX_NAME_CHARS)).transpose()?;
        let now = parts(ctx)?.0.clock.now();
        let (mut txn, scope, current) = access::write_owned::<goal::Entity>(ctx, "id", &input.id, Kind::Goal).await?;
        let updated = store::goal::update(&txn, current, title, input.status.map(Into::into), now).await?;
        txn.activity(scope.id(), ActivityKind::Goal, Some(updated.id));
        txn.commit().await?;
        Ok(GoalPayload { goal: Goal::new(scope, updated) })
    }

    /// Replaces a goal's profile, keeping the previous versions. With `expectedVersion`, a stale
    /// writer gets CONFLICT and nothing changes.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn update_goal_profile(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The goal, its new profile and the version the writer read.")] input: UpdateGoalProfileInput,
    ) -> ApiResult<GoalPayload> {
        let state = parts(ctx)?.0;
        let Json(profile) = input.profile;
        validate::json_size("profile", &profile, state.config.max_json_bytes)?;
        let now = state.clock.now();
        let (mut txn, scope, current) =
            access::write_owned::<goal::Entity>(ctx, "goalId", &input.goal_id, Kind::Goal).await?;
        let updated = store::goal::set_profile(&txn, current, profile, input.expected_version, now).await?;
        txn.activity(scope.id(), ActivityKind::Goal, Some(updated.id));
        txn.commit().await?;
        Ok(GoalPayload { goal: Goal::new(scope, updated) })
    }
}
