//! Idempotent inserts: writes a client may retry carry an `idempotencyKey`, unique per learner, and
//! a retry returns the first row instead of storing a second one: events, attempts and journal
//! entries. Chat posts and profiling answers keep their keys in tables of their own.

use sea_orm::prelude::Uuid;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, IntoActiveModel, QueryFilter, TryInsert,
    TryInsertResult,
};

use crate::error::{ApiError, ApiResult};
use crate::graphql::access::LearnerOwned;

/// An entity with a nullable `idempotency_key` column, unique together with `learner_id`.
pub trait Idempotent: LearnerOwned {
    fn key_column() -> Self::Column;
}

impl Idempotent for entity::event::Entity {
    fn key_column() -> Self::Column {
        entity::event::Column::IdempotencyKey
    }
}

impl Idempotent for entity::attempt::Entity {
    fn key_column() -> Self::Column {
        entity::attempt::Column::IdempotencyKey
    }
}

/// What an idempotent insert did.
pub enum Stored<M> {
    /// The row was inserted now.
    New(M),
    /// A row with the same key was stored before; this is it, and nothing was inserted. A caller
    /// that wrote anything else in the transaction must roll it back.
    Replayed(M),
}

/// The learner's row with this key, if any.
pub async fn by_key<E: Idempotent>(
    txn: &DatabaseTransaction,
    learner_id: Uuid,
    key: &str,
) -> ApiResult<Option<E::Model>> {
    Ok(E::find().filter(E::learner_column().eq(learner_id)).filter(E::key_column().eq(key)).one(txn).await?)
}

/// Inserts `row` unless the learner already has one with `key`. `ON CONFLICT DO NOTHING` on the
/// (learner_id, idempotency_key) index makes racing retries safe on PostgreSQL too: the second
/// insert waits for the first transaction, then inserts nothing and reads the committed row.
pub async fn insert_once<E, A>(
    txn: &DatabaseTransaction,
    learner_id: Uuid,
    key: Option<&str>,
    row: A,
) -> ApiResult<Stored<E::Model>>
where
    E: Idempotent,
    A: ActiveModelTrait<Entity = E> + Send,
    E::Model: IntoActiveModel<A>,
{
    let Some(key) = key else {
        return Ok(Stored::New(E::insert(row).exec_with_returning(txn).await?));
    };
    if let Some(first) = by_key::<E>(txn, learner_id, key).await? {
        return Ok(Stored::Replayed(first));
    }
    let insert = E::insert(row).on_conflict_do_nothing_on([E::learner_column(), E::key_column()]);
    match insert_unless_conflict(txn, insert).await? {
        Some(stored) => Ok(Stored::New(stored)),
        None => Ok(Stored::Replayed(by_key::<E>(txn, learner_id, key).await?.ok_or(ApiError::Internal)?)),
    }
}

/// Runs an `INSERT … ON CONFLICT DO NOTHING RETURNING …`: the inserted row, or None when the
/// conflict kept it out. sea-orm reports an empty RETURNING as `RecordNotFound` rather than as
/// `Conflicted`, which is what racing inserts on PostgreSQL get after waiting for the winner.
pub async fn insert_unless_conflict<A>(
    txn: &DatabaseTransaction,
    insert: TryInsert<A>,
) -> ApiResult<Option<<A::Entity as EntityTrait>::Model>>
where
    A: ActiveModelTrait,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
{
    match insert.exec_with_returning(txn).await {
        Ok(TryInsertResult::Inserted(row)) => Ok(Some(row)),
        Ok(TryInsertResult::Conflicted | TryInsertResult::Empty) | Err(DbErr::RecordNotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
