//! Database migrations. Each migration is additive; `learngraph migrate down` rolls back the last.

pub use sea_orm_migration::prelude::*;

mod m20261124_000001_foundation;
mod m20261124_000002_progress;
mod m20261125_000003_same_learner_keys;
mod m20261125_000004_details;
mod m20261125_000005_wellbeing;
mod m20261125_000006_profiling;
mod m20261125_000007_access_log;
mod m20261125_000008_activity;
mod util;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_foundation::Migration),
            Box::new(m20261124_000002_progress::Migration),
            Box::new(m20261125_000003_same_learner_keys::Migration),
            Box::new(m20261125_000004_details::Migration),
            Box::new(m20261125_000005_wellbeing::Migration),
            Box::new(m20261125_000006_profiling::Migration),
            Box::new(m20261125_000007_access_log::Migration),
            Box::new(m20261125_000008_activity::Migration),
        ]
    }
}
