//! Multi-step writes as plain async functions over an open transaction. The resolver opens the
//! transaction, calls these, and commits.

pub mod activity;
pub mod audit;
pub mod companion;
pub mod details;
pub mod event;
pub mod export;
pub mod goal;
pub mod idempotent;
pub mod journal;
pub mod learner;
pub mod practice;
pub mod profiling;
pub mod registry;
pub mod retention;
pub mod session;
pub mod vectors;
