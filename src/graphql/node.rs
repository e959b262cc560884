//! Relay `Node`: every stored thing with an id can be fetched by it.

use async_graphql::{Context, ID, Interface, Object};
use entity::{attempt, event, goal, session};
use sea_orm::EntityTrait;
use sea_orm::prelude::Uuid;

use super::access::{self, parts};
use super::event::LearnerEvent;
use super::goal::Goal;
use super::ids::{self, Kind};
use super::learner::Learner;
use super::progress::{Attempt, Session};
use crate::error::{ApiError, ApiResult};

/// Anything stored with a global id.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Global id (opaque)."))]
pub enum Node {
    Learner(Learner),
    Goal(Goal),
    LearnerEvent(LearnerEvent),
    Session(Session),
    Attempt(Attempt),
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Fetches anything by its global id; null when it does not exist.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Node>> {
        let (state, viewer) = parts(ctx)?;
        let (kind, uuid) = ids::decode_any("id", &id)?;
        let db = &state.db;
        // Owned things are looked up first, then their learner goes through the scope check.
        let (owner, node): (Option<Uuid>, Option<Node>) = match kind {
            Kind::Learner => (Some(uuid), None),
            Kind::Goal => {
                split(goal::Entity::find_by_id(uuid).one(db).await?, |g| g.learner_id, |g| Node::Goal(Goal(g)))
            }
            Kind::Event => split(
                event::Entity::find_by_id(uuid).one(db).await?,
                |e| e.learner_id,
                |e| Node::LearnerEvent(LearnerEvent(e)),
            ),
            Kind::Session => {
                split(session::Entity::find_by_id(uuid).one(db).await?, |s| s.learner_id, |s| Node::Session(Session(s)))
            }
            Kind::Attempt => {
                split(attempt::Entity::find_by_id(uuid).one(db).await?, |a| a.learner_id, |a| Node::Attempt(Attempt(a)))
            }
        };
        let Some(owner) = owner else {
            // Missing: null for privileged viewers; learners get the answer they get for others' data.
            return match viewer.authorize(None) {
                Err(ApiError::NotFound(_)) => Ok(None),
                Err(e) => Err(e),
                Ok(_) => Ok(None),
            };
        };
        let learner = access::optional(access::learner(db, viewer, owner).await)?;
        Ok(match (kind, learner) {
            (_, None) => None,
            (Kind::Learner, Some(l)) => Some(Node::Learner(Learner(l))),
            (_, Some(_)) => node,
        })
    }
}

fn split<M>(found: Option<M>, owner: impl Fn(&M) -> Uuid, wrap: impl Fn(M) -> Node) -> (Option<Uuid>, Option<Node>) {
    match found {
        Some(m) => (Some(owner(&m)), Some(wrap(m))),
        None => (None, None),
    }
}
