//! SeaORM entities: one module per table. The GraphQL layer wraps these models, so a table can
//! change shape without the schema changing.

pub mod attempt;
pub mod badge;
pub mod cognitive_metric;
pub mod cognitive_metric_record;
pub mod event;
pub mod exercise_stat;
pub mod goal;
pub mod goal_profile_version;
pub mod interest;
pub mod learner;
pub mod learner_progress;
pub mod objective_progress;
pub mod practice_day;
pub mod preference;
pub mod session;
pub mod struggle;
