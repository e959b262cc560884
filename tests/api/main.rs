//! Integration tests through the real schema and the real HTTP router. One binary for the whole
//! API, so the stack is linked once.

mod common;

mod auth;
mod bounds;
pub mod cli;
mod conformance;
mod contract;
mod crash;
mod details;
mod errors;
mod events;
mod fixtures;
mod goals;
mod http;
mod import;
mod learners;
pub mod live;
mod meta;
mod outage;
mod profiling;
mod progress;
mod protection;
mod reader;
mod schema_walk;
mod scope;
mod statements;
mod streaks;
mod trusted;
mod wellbeing;
