//! Streaks as a function of the set of practice days (local calendar days with an attempt).
//!
//! The stored summary is (longest, last practice day, first day of the run ending on the last
//! practice day). Reading the current streak is then O(1), whatever the learner's history.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

/// What is stored about a learner's practice days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreakSummary {
    pub longest: u32,
    pub last_practice_date: Option<NaiveDate>,
    pub current_run_start: Option<NaiveDate>,
}

impl StreakSummary {
    /// The summary of a set of days, in any order, duplicates allowed.
    pub fn from_days(days: impl IntoIterator<Item = NaiveDate>) -> Self {
        let mut days: Vec<NaiveDate> = days.into_iter().collect();
        days.sort_unstable();
        days.dedup();
        let mut summary = StreakSummary::default();
        for day in days {
            summary = summary.with_later_day(day);
        }
        summary
    }

    /// Adds a day that is not yet in the set. Returns `None` when that needs the whole set
    /// (a day before the last practice day can join or merge earlier runs).
    pub fn with_new_day(self, day: NaiveDate) -> Option<Self> {
        match self.last_practice_date {
            Some(last) if day <= last => None,
            _ => Some(self.with_later_day(day)),
        }
    }

    fn with_later_day(self, day: NaiveDate) -> Self {
        let run_start = match (self.last_practice_date, self.current_run_start) {
            (Some(last), Some(start)) if last.succ_opt() == Some(day) => start,
            (Some(last), _) if last == day => return self,
            _ => day,
        };
        let run = days_between(run_start, day) + 1;
        StreakSummary {
            longest: self.longest.max(run),
            last_practice_date: Some(day),
            current_run_start: Some(run_start),
        }
    }

    /// The current streak on `today`: the run that ends today or yesterday, else 0.
    pub fn current(&self, today: NaiveDate) -> u32 {
        match (self.last_practice_date, self.current_run_start) {
            (Some(last), Some(start)) if last >= today.pred_opt().unwrap_or(today) => days_between(start, last) + 1,
            _ => 0,
        }
    }
}

fn days_between(from: NaiveDate, to: NaiveDate) -> u32 {
    u32::try_from((to - from).num_days()).unwrap_or(0)
}

/// The learner's local calendar day of an instant.
pub fn local_date(at: DateTime<Utc>, tz: Tz) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// The reference: walk the whole set of days, the obvious way.
    fn naive(days: &BTreeSet<NaiveDate>, today: NaiveDate) -> (u32, u32, Option<NaiveDate>) {
        let mut longest = 0;
        let mut run = 0;
        let mut prev: Option<NaiveDate> = None;
        for &day in days {
            run = if prev.and_then(|p| p.succ_opt()) == Some(day) { run + 1 } else { 1 };
            longest = longest.max(run);
            prev = Some(day);
        }
        let mut current = 0;
        let mut cursor = if days.contains(&today) { Some(today) } else { today.pred_opt() };
        while let Some(day) = cursor.filter(|c| days.contains(c)) {
            current += 1;
            cursor = day.pred_opt();
        }
        (current, longest, days.iter().next_back().copied())
    }

    #[test]
    fn a_missed_day_restarts_the_run_at_one() {
        let s = StreakSummary::from_days([d("2026-03-01"), d("2026-03-02"), d("2026-03-04")]);
        assert_eq!(s.current(d("2026-03-04")), 1);
        assert_eq!(s.longest, 2);
    }

    #[test]
    fn current_is_zero_three_days_after_the_last_practice_and_longest_stays() {
        let s = StreakSummary::from_days([d("2026-03-01"), d("2026-03-02"), d("2026-03-03")]);
        assert_eq!(s.current(d("2026-03-04")), 3, "yesterday still counts");
        assert_eq!(s.current(d("2026-03-06")), 0);
        assert_eq!(s.longest, 3);
    }

    #[test]
    fn a_backdated_day_needs_the_whole_set() {
        let s = StreakSummary::from_days([d("2026-03-05")]);
        assert_eq!(s.with_new_day(d("2026-03-04")), None);
        assert!(s.with_new_day(d("2026-03-06")).is_some());
    }

    #[test]
    fn local_date_follows_the_time_zone() {
        let at: DateTime<Utc> = "2026-03-10T20:00:00Z".parse().unwrap();
        assert_eq!(local_date(at, chrono_tz::Pacific::Auckland), d("2026-03-11"));
        assert_eq!(local_date(at, chrono_tz::America::Los_Angeles), d("2026-03-10"));
        assert_eq!(local_date(at, chrono_tz::UTC), d("2026-03-10"));
    }

    proptest! {
        /// Days arriving in any order, applied as the server applies them (fast path when the day
        /// is later than the last one, full recompute otherwise), give the reference's answer.
        #[test]
        fn any_arrival_order_gives_the_reference_streak(
            offsets in proptest::collection::vec(0u32..60, 0..40),
            today_offset in 0u32..70,
            seed in any::<u64>(),
        ) {
            let base = d("2026-01-01");
            let days: Vec<NaiveDate> = offsets.iter().map(|o| base + chrono::Days::new(u64::from(*o))).collect();
            let set: BTreeSet<NaiveDate> = days.iter().copied().collect();
            let today = base + chrono::Days::new(u64::from(today_offset));

            let mut order: Vec<NaiveDate> = days.clone();
            // A cheap deterministic shuffle from the seed.
            let mut state = seed;
            for i in (1..order.len()).rev() {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                order.swap(i, (state >> 33) as usize % (i + 1));
            }
            let mut seen = BTreeSet::new();
            let mut summary = StreakSummary::default();
            for day in order {
                if !seen.insert(day) { continue; }
                summary = summary.with_new_day(day).unwrap_or_else(|| StreakSummary::from_days(seen.iter().copied()));
            }

            let (current, longest, last) = naive(&set, today);
            // Days after "today" cannot happen on the server (future attempts are refused).
            if last.is_none_or(|l| l <= today) {
                prop_assert_eq!(summary.current(today), current);
            }
            prop_assert_eq!(summary.longest, longest);
            prop_assert_eq!(summary.last_practice_date, last);
            prop_assert_eq!(summary, StreakSummary::from_days(set.iter().copied()));
        }
    }
}
