//! Creating, changing and erasing learners.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use entity::learner;
use sea_orm::prelude::Uuid;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, Set, TryInsertResult};

use crate::domain::validate;
use crate::error::{ApiError, ApiResult};

pub use super::registry::erase;

/// A learner to create if its externalId is new.
pub struct NewLearner {
    pub external_id: String,
    pub display_name: Option<String>,
    pub time_zone: Tz,
}

impl NewLearner {
    pub fn parse(external_id: &str, display_name: Option<String>, time_zone: Option<String>) -> ApiResult<Self> {
        Ok(NewLearner {
            external_id: validate::key("externalId", external_id, validate::MAX_EXTERNAL_ID_CHARS)?,
            display_name: display_name
                .map(|n| validate::text("displayName", &n, validate::MAX_NAME_CHARS))
                .transpose()?,
            time_zone: match time_zone {
                Some(tz) => validate::time_zone("timeZone", &tz)?,
                None => Tz::UTC,
            },
        })
    }
}

/// Returns the learner with this externalId, creating it if needed; true when this call created it.
/// ON CONFLICT DO NOTHING makes concurrent first calls race-safe on both engines: the losers wait
/// for the winner's row and then insert nothing.
pub async fn ensure(
    txn: &DatabaseTransaction,
    new: NewLearner,
    now: DateTime<Utc>,
) -> ApiResult<(learner::Model, bool)> {
    let row = learner::ActiveModel {
        id: Set(Uuid::now_v7()),
        external_id: Set(new.external_id.clone()),
        search_text: Set(search_text(&new.external_id, new.display_name.as_deref())),
        display_name: Set(new.display_name),
        bio: Set(None),
        time_zone: Set(new.time_zone.name().to_owned()),
        settings: Set(serde_json::to_value(Settings::default()).map_err(|_| ApiError::Internal)?),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let inserted = learner::Entity::insert(row)
        .on_conflict_do_nothing_on([learner::Column::ExternalId])
        .exec_without_returning(txn)
        .await?;
    let created = matches!(inserted, TryInsertResult::Inserted(n) if n > 0);
    let found = learner::Entity::find()
        .filter(learner::Column::ExternalId.eq(&new.external_id))
        .one(txn)
        .await?
        .ok_or(ApiError::Internal)?;
    Ok((found, created))
}

/// What the staff search matches: both names, case-folded in Rust (SQLite's lower() folds only
/// ASCII, PostgreSQL's follows the collation), on separate lines so a pattern never spans both.
pub fn search_text(external_id: &str, display_name: Option<&str>) -> String {
    format!("{}\n{}", external_id.to_lowercase(), display_name.unwrap_or("").to_lowercase())
}

/// Display preferences kept with the learner, as stored (JSON).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Settings {
    pub theme: Option<String>,
    pub preferred_meditation_minutes: Option<i32>,
    pub preferred_mentor_category: Option<String>,
}

impl Settings {
    /// The stored settings. They are validated on write, so JSON that does not read back is a
    /// fault of ours: logged, and INTERNAL rather than defaults that a later update would write
    /// over the stored value.
    pub fn of(l: &learner::Model) -> ApiResult<Settings> {
        serde_json::from_value(l.settings.clone()).map_err(|e| {
            tracing::error!(learner_id = %l.id, error = %e, "stored learner settings do not parse");
            ApiError::Internal
        })
    }
}

/// A change to one optional field: `None` keeps it, `Some(None)` clears it, `Some(Some(v))` sets it.
pub type Change<T> = Option<Option<T>>;

/// Changes to the settings; each field as in `Change`.
#[derive(Default)]
pub struct SettingsChanges {
    pub theme: Change<String>,
    pub preferred_meditation_minutes: Change<i32>,
    pub preferred_mentor_category: Change<String>,
}

/// Validated changes to a learner.
#[derive(Default)]
pub struct LearnerChanges {
    pub display_name: Change<String>,
    pub bio: Change<String>,
    pub time_zone: Option<Tz>,
    pub settings: Option<SettingsChanges>,
}

impl SettingsChanges {
    pub fn parse(
        theme: Change<String>,
        preferred_meditation_minutes: Change<i32>,
        preferred_mentor_category: Change<String>,
    ) -> ApiResult<Self> {
        let name = |field: &str, v: Change<String>| -> ApiResult<Change<String>> {
            v.map(|v| v.map(|t| validate::text(field, &t, validate::MAX_NAME_CHARS)).transpose()).transpose()
        };
        if let Some(Some(m)) = preferred_meditation_minutes
            && !(1..=600).contains(&m)
        {
            return Err(ApiError::bad_input("settings.preferredMeditationMinutes", "must be between 1 and 600"));
        }
        Ok(SettingsChanges {
            theme: name("settings.theme", theme)?,
            preferred_meditation_minutes,
            preferred_mentor_category: name("settings.preferredMentorCategory", preferred_mentor_category)?,
        })
    }

    fn apply(self, s: &mut Settings) {
        fn set<T>(slot: &mut Option<T>, change: Change<T>) {
            if let Some(v) = change {
                *slot = v;
            }
        }
        set(&mut s.theme, self.theme);
        set(&mut s.preferred_meditation_minutes, self.preferred_meditation_minutes);
        set(&mut s.preferred_mentor_category, self.preferred_mentor_category);
    }
}

/// Applies validated changes to a learner read in this transaction.
pub async fn update(
    txn: &DatabaseTransaction,
    current: &learner::Model,
    changes: LearnerChanges,
    now: DateTime<Utc>,
) -> ApiResult<learner::Model> {
    let mut row: learner::ActiveModel = current.clone().into();
    if let Some(name) = changes.display_name {
        row.search_text = Set(search_text(&current.external_id, name.as_deref()));
        row.display_name = Set(name);
    }
    if let Some(bio) = changes.bio {
        row.bio = Set(bio);
    }
    if let Some(tz) = changes.time_zone {
        row.time_zone = Set(tz.name().to_owned());
    }
    if let Some(s) = changes.settings {
        let mut settings = Settings::of(current)?;
        s.apply(&mut settings);
        row.settings = Set(serde_json::to_value(&settings).map_err(|_| ApiError::Internal)?);
    }
    row.updated_at = Set(now);
    Ok(row.update(txn).await?)
}
