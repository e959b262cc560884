//! Goals and their versioned profiles.

use chrono::{DateTime, Utc};
use entity::goal::{self, GoalStatus};
use entity::goal_profile_version;
use sea_orm::prelude::Uuid;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, Set};

use crate::domain::validate;
use crate::error::{ApiError, ApiResult, is_unique_violation};
use crate::graphql::access::LearnerScope;

/// A validated goal to create.
pub struct NewGoal {
    pub external_id: Option<String>,
    pub title: String,
    pub status: GoalStatus,
    pub profile: Option<serde_json::Value>,
}

impl NewGoal {
    pub fn parse(
        external_id: Option<String>,
        title: &str,
        status: Option<GoalStatus>,
        profile: Option<serde_json::Value>,
        max_json_bytes: usize,
    ) -> ApiResult<Self> {
        if let Some(p) = &profile {
            validate::json_size("profile", p, max_json_bytes)?;
        }
        Ok(NewGoal {
            external_id: external_id
                .map(|e| validate::key("externalId", &e, validate::MAX_EXTERNAL_ID_CHARS))
                .transpose()?,
            title: validate::key("title", title, validate::MAX_NAME_CHARS)?,
            status: status.unwrap_or(GoalStatus::Active),
            profile,
        })
    }
}

/// Creates a goal; an initial profile becomes version 1. A duplicate externalId is CONFLICT.
pub async fn create(
    txn: &DatabaseTransaction,
    learner: &LearnerScope,
    new: NewGoal,
    now: DateTime<Utc>,
) -> ApiResult<goal::Model> {
    let (profile, version) = match new.profile {
        Some(p) => (p, 1),
        None => (serde_json::json!({}), 0),
    };
    let row = goal::ActiveModel {
        id: Set(Uuid::now_v7()),
        learner_id: Set(learner.id()),
        external_id: Set(new.external_id),
        title: Set(new.title),
        status: Set(new.status),
        profile: Set(profile),
        profile_version: Set(version),
        profile_updated_at: Set((version > 0).then_some(now)),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let created = match goal::Entity::insert(row).exec_with_returning(txn).await {
        Ok(g) => g,
        Err(e) if is_unique_violation(&e) => {
            return Err(ApiError::Conflict("this learner already has a goal with that externalId".into()));
        }
        Err(e) => return Err(e.into()),
    };
    if version > 0 {
        insert_version(txn, &created, now).await?;
    }
    Ok(created)
}

/// Changes a goal's title or status.
pub async fn update(
    txn: &DatabaseTransaction,
    current: goal::Model,
    title: Option<String>,
    status: Option<GoalStatus>,
    now: DateTime<Utc>,
) -> ApiResult<goal::Model> {
    let mut row: goal::ActiveModel = current.into();
    if let Some(t) = title {
        row.title = Set(t);
    }
    if let Some(s) = status {
        row.status = Set(s);
    }
    row.updated_at = Set(now);
    Ok(row.update(txn).await?)
}

/// Replaces a goal's profile and keeps the new version. Compare-and-set on the version: on
/// PostgreSQL two writers may read the same version and only one UPDATE matches it. With
/// `expected`, a stale writer gets CONFLICT; without it, the writer re-reads and retries.
pub async fn set_profile(
    txn: &DatabaseTransaction,
    mut current: goal::Model,
    profile: serde_json::Value,
    expected: Option<i32>,
    now: DateTime<Utc>,
) -> ApiResult<goal::Model> {
    loop {
        if let Some(expected) = expected
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
            .exec(txn)
            .await?;
        if result.rows_affected == 1 {
            break;
        }
        current = goal::Entity::find_by_id(current.id).one(txn).await?.ok_or(ApiError::NotFound("goal".into()))?;
    }
    let updated = goal::Entity::find_by_id(current.id).one(txn).await?.ok_or(ApiError::Internal)?;
    insert_version(txn, &updated, now).await?;
    Ok(updated)
}

async fn insert_version(txn: &DatabaseTransaction, g: &goal::Model, now: DateTime<Utc>) -> ApiResult<()> {
    goal_profile_version::ActiveModel {
        id: Set(Uuid::now_v7()),
        goal_id: Set(g.id),
        learner_id: Set(g.learner_id),
        version: Set(g.profile_version),
        profile: Set(g.profile.clone()),
        created_at: Set(now),
    }
    .insert(txn)
    .await?;
    Ok(())
}
