//! Time and periods: business dates in the legal entity's time zone, and accounting periods.
//!
//! Model times are UTC. The accounting date of an event is its date **in the legal entity's time
//! zone**: an order placed `2026-01-31T17:30:00Z` belongs to 2026-02-01 in `Asia/Shanghai` (and
//! so to February), but to 2026-01-31 in `America/Los_Angeles`.
//!
//! Periods are calendar months ([`Period`]). A settlement whose lines fall in two periods is
//! posted as one journal per period (see
//! [`Mapper::settlement_journals`](crate::Mapper::settlement_journals)).

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use marketsync_core::{Error, TimeZoneId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::errors;

/// Resolves an IANA zone name against the time-zone database.
pub fn parse_tz(zone: &TimeZoneId) -> Result<Tz, Error> {
    zone.as_str().parse::<Tz>().map_err(|_| {
        errors::config(format!("unknown time zone {:?}", zone.as_str()))
            .with_context("time_zone", zone)
    })
}

/// The business date of an instant in a zone.
pub fn business_date(at: DateTime<Utc>, zone: Tz) -> NaiveDate {
    at.with_timezone(&zone).date_naive()
}

/// An accounting period: a calendar month.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub struct Period {
    /// Year.
    pub year: i32,
    /// Month, 1–12.
    pub month: u32,
}

impl Period {
    /// The period a date belongs to.
    pub fn of(date: NaiveDate) -> Period {
        Period {
            year: date.year(),
            month: date.month(),
        }
    }

    /// First day of the period.
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or(NaiveDate::MIN)
    }

    /// Last day of the period.
    pub fn last_day(self) -> NaiveDate {
        let (y, m) = if self.month == 12 {
            (self.year + 1, 1)
        } else {
            (self.year, self.month + 1)
        };
        NaiveDate::from_ymd_opt(y, m, 1)
            .and_then(|d| d.pred_opt())
            .unwrap_or(NaiveDate::MAX)
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shanghai_business_date_crosses_month() -> Result<(), Error> {
        let at = DateTime::parse_from_rfc3339("2026-01-31T17:30:00Z")
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| errors::invalid(e.to_string()))?;
        let sh = parse_tz(&TimeZoneId::shanghai())?;
        let la = parse_tz(&TimeZoneId::new("America/Los_Angeles").unwrap_or_else(TimeZoneId::utc))?;
        assert_eq!(business_date(at, sh).to_string(), "2026-02-01");
        assert_eq!(Period::of(business_date(at, sh)).to_string(), "2026-02");
        assert_eq!(business_date(at, la).to_string(), "2026-01-31");
        assert!(
            parse_tz(&TimeZoneId::new("Mars/Olympus").unwrap_or_else(TimeZoneId::utc)).is_err()
        );
        Ok(())
    }

    #[test]
    fn period_bounds() {
        let p = Period {
            year: 2024,
            month: 2,
        };
        assert_eq!(p.first_day().to_string(), "2024-02-01");
        assert_eq!(p.last_day().to_string(), "2024-02-29");
        assert_eq!(
            Period {
                year: 2025,
                month: 12
            }
            .last_day()
            .to_string(),
            "2025-12-31"
        );
    }
}
