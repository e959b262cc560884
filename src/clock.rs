//! "Now", injectable so that rules about today (streaks) are testable without sleeping.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

#[derive(Clone, Default)]
pub enum Clock {
    #[default]
    System,
    /// A clock that reads a settable instant (tests and benchmarks).
    Fixed(Arc<Mutex<DateTime<Utc>>>),
}

impl Clock {
    pub fn fixed(at: DateTime<Utc>) -> Self {
        Clock::Fixed(Arc::new(Mutex::new(at)))
    }

    /// The current instant, truncated to microseconds: both databases store microseconds, so a
    /// value read back equals the value written on either.
    pub fn now(&self) -> DateTime<Utc> {
        let now = match self {
            Clock::System => Utc::now(),
            Clock::Fixed(at) => *at.lock().unwrap_or_else(|poisoned| poisoned.into_inner()),
        };
        truncate_micros(now)
    }

    /// Moves a fixed clock; does nothing to the system clock.
    pub fn set(&self, to: DateTime<Utc>) {
        if let Clock::Fixed(at) = self {
            *at.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = to;
        }
    }
}

pub fn truncate_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(at)
}
