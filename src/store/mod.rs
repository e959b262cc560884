//! Multi-step writes as plain async functions over an open transaction. The resolver opens the
//! transaction, calls these, and commits.

pub mod learner;
pub mod practice;
