//! The `Date` scalar (YYYY-MM-DD). `DateTime`, `JSON` and `UUID` come from async-graphql.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{Datelike, NaiveDate};

/// A calendar date, `YYYY-MM-DD`, in the learner's own time zone where it names a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date(pub NaiveDate);

/// A calendar date, `YYYY-MM-DD`.
#[Scalar(name = "Date")]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(Date)
                .map_err(|_| InputValueError::custom("expected a date as YYYY-MM-DD")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.text())
    }
}

impl Date {
    /// `YYYY-MM-DD`, as chrono's `%Y-%m-%d` writes it: digit by digit rather than through
    /// chrono's format parser and a `Formatter` (a practice day list writes one per day). Years
    /// outside 0..=9999, which `%Y` writes with a sign or more digits, are left to chrono.
    fn text(&self) -> String {
        let (year, month, day) = (self.0.year(), self.0.month(), self.0.day());
        let Ok(year @ 0..=9999) = u32::try_from(year) else {
            return self.0.format("%Y-%m-%d").to_string();
        };
        let digit = |n: u32| char::from(b'0' + (n % 10) as u8);
        [digit(year / 1000), digit(year / 100), digit(year / 10), digit(year), '-']
            .into_iter()
            .chain([digit(month / 10), digit(month), '-', digit(day / 10), digit(day)])
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_as_chrono_formats_them() {
        let mut day = NaiveDate::from_ymd_opt(-3, 1, 1).unwrap();
        let mut checked = 0;
        while day.year() < 10_003 {
            assert_eq!(Date(day).to_value(), Value::String(day.format("%Y-%m-%d").to_string()), "{day:?}");
            day = day + chrono::Days::new(if day.year() < 3 || day.year() > 9_997 { 1 } else { 37 });
            checked += 1;
        }
        assert!(checked > 50_000);
    }
}
