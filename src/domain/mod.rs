//! Rules that need no HTTP and no GraphQL: pure functions with their own unit tests.

pub mod embedding;
pub mod profiling;
pub mod streak;
pub mod validate;
