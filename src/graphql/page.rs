//! Keyset pagination, newest first by (time, id): stable under concurrent inserts, and as cheap
//! on page 1,000 as on page 1 (no OFFSET).

use std::borrow::Cow;

use async_graphql::connection::PageInfo;
use async_graphql::{Object, OutputType, TypeName};
use chrono::{DateTime, Utc};
use sea_orm::prelude::Uuid;
use sea_orm::sea_query::Condition;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, Select};

use crate::domain::validate;
use crate::error::ApiResult;
use crate::graphql::fast::{Fast, Leaf, Leaves, List, Written, value};
use crate::graphql::ids::Cursor;

pub const DEFAULT_PAGE: i32 = 20;

/// One page of a list, in the list's order (`first` items after the cursor `after`), with what is
/// needed to ask for the next page. Named after its node type (`AttemptConnection`, …), as Relay
/// clients expect. On the fast path (`graphql::fast`) with its edges and page info, so a page of
/// the dashboard is written as one piece of JSON text.
pub type Connection<N> = Fast<Page<N>>;

/// The fields of a `Connection`.
pub struct Page<N> {
    edges: Vec<Edge<N>>,
    has_previous_page: bool,
    has_next_page: bool,
}

/// One item of a page and the cursor to continue after it. The cursor is encoded only when a
/// client selects it: most pages are read for their nodes, and one cursor costs a `format!` and a
/// base64 encoding.
pub struct Edge<N> {
    cursor: Cursor,
    node: N,
}

impl<N: Leaves> Leaves for Page<N> {}

/// One page of a list, in the list's order, with what is needed to ask for the next page.
#[Object(name_type)]
impl<N: Leaves> Page<N> {
    /// The items of this page, each with its cursor.
    async fn edges(&self) -> List<&Edge<N>> {
        List(self.edges.iter().collect())
    }
    /// The items of this page, without cursors.
    async fn nodes(&self) -> List<&N> {
        List(self.edges.iter().map(|e| &e.node).collect())
    }
    /// Whether there are more items, and the cursors to continue from.
    async fn page_info(&self) -> Fast<PageInfo> {
        Fast(PageInfo {
            has_previous_page: self.has_previous_page,
            has_next_page: self.has_next_page,
            start_cursor: self.edges.first().map(|e| e.cursor.encode()),
            end_cursor: self.edges.last().map(|e| e.cursor.encode()),
        })
    }
}

impl Leaves for PageInfo {
    fn leaf(&self, name: &str) -> Option<Leaf<'_>> {
        Some(match name {
            "hasPreviousPage" => value(&self.has_previous_page),
            "hasNextPage" => value(&self.has_next_page),
            "startCursor" => value(&self.start_cursor),
            "endCursor" => value(&self.end_cursor),
            _ => return None,
        })
    }
}

impl<N: OutputType> TypeName for Page<N> {
    fn type_name() -> Cow<'static, str> {
        format!("{}Connection", N::type_name()).into()
    }
}

impl<N: Leaves> Leaves for Edge<N> {
    fn leaf(&self, name: &str) -> Option<Leaf<'_>> {
        match name {
            "cursor" => Some(Leaf::Value(async_graphql::Value::String(self.cursor.encode()))),
            _ => None,
        }
    }

    fn nested(&self, name: &str) -> Option<&dyn Written> {
        (name == "node").then_some(&self.node as &dyn Written)
    }
}

/// One item of a page and the cursor to continue after it.
#[Object(name_type)]
impl<N: Leaves> Edge<N> {
    /// Pass as `after` to get the items that follow this one.
    async fn cursor(&self) -> String {
        self.cursor.encode()
    }
    /// The item.
    async fn node(&self) -> Fast<&N> {
        Fast(&self.node)
    }
}

impl<N: OutputType> TypeName for Edge<N> {
    fn type_name() -> Cow<'static, str> {
        format!("{}Edge", N::type_name()).into()
    }
}

/// Fetches one page of `select`, ordered by `(at_col, id_col)` descending, after `after`.
pub async fn keyset<E, C, N>(
    db: &C,
    select: Select<E>,
    (at_col, id_col): (E::Column, E::Column),
    first: Option<i32>,
    after: Option<String>,
    key: impl Fn(&E::Model) -> (DateTime<Utc>, Uuid),
    node: impl Fn(E::Model) -> N,
) -> ApiResult<Connection<N>>
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
    let rows = select.order_by(at_col, Order::Desc).order_by(id_col, Order::Desc).limit(limit + 1).all(db).await?;
    Ok(finish(rows, limit, after.is_some(), key, node))
}

/// A connection from up to `limit + 1` rows, newest first: the extra row only says that another
/// page follows.
fn finish<M, N>(
    mut rows: Vec<M>,
    limit: u64,
    has_previous_page: bool,
    key: impl Fn(&M) -> (DateTime<Utc>, Uuid),
    node: impl Fn(M) -> N,
) -> Connection<N> {
    let has_next_page = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let edges = rows
        .into_iter()
        .map(|row| {
            let (at, id) = key(&row);
            Edge { cursor: Cursor { at, id }, node: node(row) }
        })
        .collect();
    Fast(Page { edges, has_previous_page, has_next_page })
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

/// A keyset page of `E` under a learner (or under `parent`, a row of it), filtered by `filter`:
/// batched with the same page under every other learner or parent of the request, so a page of
/// learners with a nested connection costs one statement for that connection, not one per learner.
pub async fn batched<E, N>(
    ctx: &async_graphql::Context<'_>,
    scope: &crate::graphql::access::LearnerScope,
    parent: Option<Uuid>,
    filter: sea_orm::Condition,
    first: Option<i32>,
    after: Option<String>,
    node: impl Fn(E::Model) -> N,
) -> ApiResult<Connection<N>>
where
    E: crate::graphql::loaders::Paged,
    E::Model: Clone + Send + Sync,
    N: OutputType,
{
    use crate::graphql::loaders::{PageFilter, PageKey, page_of};
    let limit = validate::page_size(first, DEFAULT_PAGE)?;
    let after = after.as_deref().map(Cursor::decode).transpose()?;
    let key = PageKey {
        learner: scope.id(),
        parent,
        filter: PageFilter::new(filter),
        limit: limit + 1,
        after: after.as_ref().map(|c| (c.at, c.id)),
    };
    let rows = page_of::<E>(ctx, key).await?;
    Ok(finish(rows, limit, after.is_some(), E::at_id, node))
}
