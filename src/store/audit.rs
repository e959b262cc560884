//! The access log: one row per (request, learner) touched by a staff or service token, written
//! once per request, and the erasure records that outlive their learner.

use chrono::{DateTime, Utc};
use entity::access_log::{self, AccessAction};
use entity::learner;
use sea_orm::prelude::Uuid;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set};
use sha2::{Digest, Sha256};

use crate::auth::Viewer;
use crate::error::ApiResult;

/// Who is recorded as acting.
#[derive(Debug, Clone)]
pub struct Actor {
    pub name: String,
    pub role: &'static str,
}

impl Actor {
    /// The actor of a request. A learner is recorded without its externalId (an erasure record
    /// must not keep it).
    pub fn of(viewer: &Viewer) -> Actor {
        let (name, role) = match viewer {
            Viewer::Staff { sub } => (sub.clone(), "staff"),
            Viewer::Service { sub } => (sub.clone(), "service"),
            Viewer::Learner { .. } => ("self".to_owned(), "learner"),
            Viewer::Open => ("open".to_owned(), "open"),
            Viewer::Anonymous => ("anonymous".to_owned(), "anonymous"),
        };
        Actor { name, role }
    }

    /// The server itself (the retention sweep).
    pub fn system(name: &str) -> Actor {
        Actor { name: name.to_owned(), role: "system" }
    }

    /// Whether this viewer's requests are logged: staff and service tokens. A learner reading its
    /// own record is not; open development mode has no one to name.
    pub fn audited(viewer: &Viewer) -> bool {
        matches!(viewer, Viewer::Staff { .. } | Viewer::Service { .. })
    }
}

/// One learner touched by one request.
#[derive(Debug, Clone)]
pub struct Access {
    pub learner_id: Uuid,
    pub write: bool,
    /// The top-level fields that touched it, sorted.
    pub fields: Vec<String>,
}

/// Records a request's accesses in one statement, skipping learners that no longer exist (erased
/// by this request or a concurrent one).
pub async fn record<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    operation: Option<&str>,
    accesses: &[Access],
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let ids: Vec<Uuid> = accesses.iter().map(|a| a.learner_id).collect();
    let existing: Vec<Uuid> = learner::Entity::find()
        .select_only()
        .column(learner::Column::Id)
        .filter(learner::Column::Id.is_in(ids))
        .into_tuple()
        .all(db)
        .await?;
    let rows: Vec<access_log::ActiveModel> = accesses
        .iter()
        .filter(|a| existing.contains(&a.learner_id))
        .map(|a| access_log::ActiveModel {
            id: Set(Uuid::now_v7()),
            learner_id: Set(Some(a.learner_id)),
            subject_hash: Set(None),
            at: Set(now),
            actor: Set(actor.name.clone()),
            role: Set(actor.role.to_owned()),
            action: Set(if a.write { AccessAction::Write } else { AccessAction::Read }),
            operation_name: Set(operation.map(str::to_owned)),
            fields: Set(serde_json::json!(a.fields)),
        })
        .collect();
    if !rows.is_empty() {
        access_log::Entity::insert_many(rows).exec_without_returning(db).await?;
    }
    Ok(())
}

/// Records that `external_id` was erased: the only row about a learner that outlives it, naming
/// it by hash.
pub async fn record_erasure<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    operation: &str,
    external_id: &str,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    access_log::Entity::insert(access_log::ActiveModel {
        id: Set(Uuid::now_v7()),
        learner_id: Set(None),
        subject_hash: Set(Some(subject_hash(external_id))),
        at: Set(now),
        actor: Set(actor.name.clone()),
        role: Set(actor.role.to_owned()),
        action: Set(AccessAction::Erase),
        operation_name: Set(Some(operation.to_owned())),
        fields: Set(serde_json::json!([])),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// How an erasure record names its learner: SHA-256 of the externalId, lowercase hex. Whoever
/// knows the externalId can find the record; the record alone does not give the externalId back.
pub fn subject_hash(external_id: &str) -> String {
    Sha256::digest(external_id.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The erasure records of an externalId, newest first.
pub async fn erasures<C: ConnectionTrait>(db: &C, external_id: &str) -> ApiResult<Vec<access_log::Model>> {
    use sea_orm::QueryOrder;
    Ok(access_log::Entity::find()
        .filter(access_log::Column::SubjectHash.eq(subject_hash(external_id)))
        .order_by_desc(access_log::Column::At)
        .order_by_desc(access_log::Column::Id)
        .limit(100)
        .all(db)
        .await?)
}
