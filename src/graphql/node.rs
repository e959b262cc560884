//! Relay `Node`: every stored thing with an id can be fetched by it.
//!
//! The `nodes!` list below is the one place a kind of node is declared: it makes the id `Kind`
//! (its tag is the GraphQL type name inside every global id), the `Node` interface and the
//! scoped fetch of `node(id)`. Adding a line is the whole edit; a type without `new(scope, row)`
//! or an entity without `LearnerOwned` does not compile. Kinds after `shared:` are rows of shared
//! catalogs (no learner): `new(row)`, readable by any viewer with a token.

use async_graphql::{Context, ID, Interface, Object};
use entity::{
    attempt, chat_message, event, goal, journal_entry, journal_follow_up, meditation_reflection, mentor_selection,
    portfolio_item, profiling_session, recipe, session,
};
use sea_orm::prelude::Uuid;
use sea_orm::{ConnectionTrait, EntityTrait};

use super::access::{self, parts};
use super::companion::{ChatMessage, MentorSelection};
use super::event::LearnerEvent;
use super::goal::Goal;
use super::ids;
use super::journal::{JournalEntry, JournalFollowUp};
use super::learner::Learner;
use super::meditation::MeditationReflection;
use super::practice::Attempt;
use super::profiling::{PortfolioItem, ProfilingSession, Recipe};
use super::session::Session;
use crate::auth::Viewer;
use crate::error::ApiResult;

macro_rules! nodes {
    (
        $($kind:ident: $entity:ident => $object:ident),* $(,)?
        ; shared: $($skind:ident: $sentity:ident => $sobject:ident),* $(,)?
    ) => {
        /// The kinds of stored things that have a global id.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Kind {
            Learner,
            $($kind,)*
            $($skind),*
        }

        impl Kind {
            pub const ALL: &'static [Kind] = &[Kind::Learner, $(Kind::$kind,)* $(Kind::$skind),*];

            /// The GraphQL type name, which global ids carry.
            pub fn tag(self) -> &'static str {
                match self {
                    Kind::Learner => "Learner",
                    $(Kind::$kind => stringify!($object),)*
                    $(Kind::$skind => stringify!($sobject)),*
                }
            }
        }

        /// Anything stored with a global id.
        #[derive(Interface)]
        #[graphql(field(name = "id", ty = "ID", desc = "Global id (opaque)."))]
        pub enum Node {
            Learner(Learner),
            $($kind($object),)*
            $($skind($sobject)),*
        }

        /// The node with this id, through the scope gate; None when it does not exist (privileged
        /// viewers) and FORBIDDEN for a learner token, whether it exists or not.
        async fn fetch<C: ConnectionTrait>(db: &C, viewer: &Viewer, kind: Kind, uuid: Uuid) -> ApiResult<Option<Node>> {
            match kind {
                Kind::Learner => Ok(access::optional(access::learner(db, viewer, uuid).await)?
                    .map(|scope| Node::Learner(Learner::new(scope)))),
                $(Kind::$kind => Ok(access::optional(access::owned_uuid::<$entity::Entity, C>(db, viewer, uuid).await)?
                    .map(|(row, scope)| Node::$kind($object::new(scope, row))))),*,
                // Shared catalogs: any viewer with a token may read them.
                $(Kind::$skind => {
                    viewer.require_token()?;
                    Ok($sentity::Entity::find_by_id(uuid).one(db).await?.map(|row| Node::$skind($sobject::new(row))))
                }),*
            }
        }
    };
}

nodes! {
    Goal: goal => Goal,
    LearnerEvent: event => LearnerEvent,
    Session: session => Session,
    Attempt: attempt => Attempt,
    JournalEntry: journal_entry => JournalEntry,
    JournalFollowUp: journal_follow_up => JournalFollowUp,
    ChatMessage: chat_message => ChatMessage,
    MentorSelection: mentor_selection => MentorSelection,
    MeditationReflection: meditation_reflection => MeditationReflection,
    ProfilingSession: profiling_session => ProfilingSession,
    PortfolioItem: portfolio_item => PortfolioItem,
    ; shared:
    Recipe: recipe => Recipe,
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Fetches anything by its global id; null when it does not exist.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A global id, as any `id` field returns it.")] id: ID,
    ) -> ApiResult<Option<Node>> {
        let (state, viewer) = parts(ctx)?;
        let (kind, uuid) = ids::decode_any("id", &id)?;
        fetch(&state.reader, viewer, kind, uuid).await
    }
}
