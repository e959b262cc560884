//! Keyset pagination, newest first by (time, id): stable under concurrent inserts, and as cheap
//! on page 1,000 as on page 1 (no OFFSET).

use async_graphql::OutputType;
use async_graphql::connection::{Connection, Edge};
use chrono::{DateTime, Utc};
use sea_orm::prelude::Uuid;
use sea_orm::sea_query::Condition;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, Select};

use crate::domain::validate;
use crate::error::ApiResult;
use crate::graphql::ids::Cursor;

pub const DEFAULT_PAGE: i32 = 20;

/// Fetches one page of `select`, ordered by `(at_col, id_col)` descending, after `after`.
pub async fn keyset<E, C, N>(
    db: &C,
    select: Select<E>,
    (at_col, id_col): (E::Column, E::Column),
    first: Option<i32>,
    after: Option<String>,
    key: impl Fn(&E::Model) -> (DateTime<Utc>, Uuid),
    node: impl Fn(E::Model) -> N,
) -> ApiResult<Connection<String, N>>
where
    E: EntityTrait,
    C: ConnectionTrait,
    N: OutputType,
{
    let limit = validate::page_size(first, DEFAULT_PAGE)?;
    let after = after.as_deref().map(Cursor::decode).transpose()?;
    let mut select = select;
    if let Some(c) = after {
        select = select.filter(
            Condition::any().add(at_col.lt(c.at)).add(Condition::all().add(at_col.eq(c.at)).add(id_col.lt(c.id))),
        );
    }
    let mut rows = select.order_by(at_col, Order::Desc).order_by(id_col, Order::Desc).limit(limit + 1).all(db).await?;
    let has_next = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let mut connection = Connection::new(after.is_some(), has_next);
    connection.edges.extend(rows.into_iter().map(|row| {
        let (at, id) = key(&row);
        Edge::new(Cursor { at, id }.encode(), node(row))
    }));
    Ok(connection)
}

/// Complexity of a connection field: its page size times the cost of one node, so a client asking
/// for 100 of something nested pays for it.
pub fn cost(first: Option<i32>, child_complexity: usize) -> usize {
    first.unwrap_or(DEFAULT_PAGE).clamp(1, 100) as usize * child_complexity.max(1) + 1
}

/// `cost` for a list whose `first` defaults to `default` rather than to a page.
pub fn cost_with(first: Option<i32>, default: i32, child_complexity: usize) -> usize {
    first.unwrap_or(default).clamp(1, 100) as usize * child_complexity.max(1) + 1
}
