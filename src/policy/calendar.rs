//! The cutover calendar: which phase the region is in at a given instant.
//!
//! Dates are local dates in the configured time zone (default Europe/Moscow); a date
//! starts at 00:00 local time. The calendar never reads the clock itself: callers pass
//! the instant (from an injected [`crate::clock::Clock`]), so tests and `demo --at`
//! can stand on any date, and a phase change happens at the right instant without a
//! restart — ask again and the answer changes.
//!
//! Seed 004 (Yaroslavl): `transition_from = 2018-09-01`, `esia_only_from = 2019-01-01`,
//! `legacy_login = "restricted"`. Seed 000 (web2edu): `esia_only_from = 2016-01-01`,
//! `legacy_login = "disabled"`, no transition (absent, or equal to `esia_only_from`).

use std::fmt;

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

/// What a legacy (diary-password) login may do after the cutover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegacyLogin {
    /// Seed 004: the cabinet opens, protected route groups are closed.
    Restricted,
    /// Seed 000: the legacy form is refused; only ESIA gets in.
    Disabled,
}

impl LegacyLogin {
    pub fn as_str(self) -> &'static str {
        match self {
            LegacyLogin::Restricted => "restricted",
            LegacyLogin::Disabled => "disabled",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Gateway transparent, ESIA optional.
    BeforeTransition,
    /// Both logins work; the banner urges linking.
    Transition,
    /// ESIA only (with the legacy mode after the cutover).
    Cutover(LegacyLogin),
}

impl Phase {
    /// Stable name for logs, metrics (`/metrics` phase label) and `explain`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::BeforeTransition => "before-transition",
            Phase::Transition => "transition",
            Phase::Cutover(LegacyLogin::Restricted) => "cutover-restricted",
            Phase::Cutover(LegacyLogin::Disabled) => "cutover-disabled",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("transition_from ({transition}) is after esia_only_from ({cutover})")]
    TransitionAfterCutover {
        transition: NaiveDate,
        cutover: NaiveDate,
    },
    #[error("{0} has no midnight or later hour on that date in the time zone")]
    NoLocalMidnight(NaiveDate),
}

/// A validated calendar; the boundary instants are computed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    pub time_zone: Tz,
    pub transition_from: Option<NaiveDate>,
    pub esia_only_from: NaiveDate,
    pub legacy_login: LegacyLogin,
    transition_at: Option<DateTime<Utc>>,
    cutover_at: DateTime<Utc>,
}

impl Calendar {
    /// `transition_from` equal to `esia_only_from` means "no transition phase".
    pub fn new(
        time_zone: Tz,
        transition_from: Option<NaiveDate>,
        esia_only_from: NaiveDate,
        legacy_login: LegacyLogin,
    ) -> Result<Self, CalendarError> {
        if let Some(t) = transition_from
            && t > esia_only_from
        {
            return Err(CalendarError::TransitionAfterCutover {
                transition: t,
                cutover: esia_only_from,
            });
        }
        let transition_at = transition_from
            .map(|d| local_midnight(time_zone, d))
            .transpose()?;
        let cutover_at = local_midnight(time_zone, esia_only_from)?;
        Ok(Self {
            time_zone,
            transition_from,
            esia_only_from,
            legacy_login,
            transition_at,
            cutover_at,
        })
    }

    /// Seed 004's calendar (the shipped default and the demo's).
    pub fn seed_004() -> Self {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default();
        Self::new(
            chrono_tz::Europe::Moscow,
            Some(d(2018, 9, 1)),
            d(2019, 1, 1),
            LegacyLogin::Restricted,
        )
        .unwrap_or_else(|_| unreachable_calendar())
    }

    /// Seed 000's calendar: ESIA only from 2016-01-01, legacy login disabled.
    pub fn seed_000() -> Self {
        let d = NaiveDate::from_ymd_opt(2016, 1, 1).unwrap_or_default();
        Self::new(chrono_tz::Europe::Moscow, None, d, LegacyLogin::Disabled)
            .unwrap_or_else(|_| unreachable_calendar())
    }

    pub fn phase_at(&self, at: DateTime<Utc>) -> Phase {
        if at >= self.cutover_at {
            Phase::Cutover(self.legacy_login)
        } else if self.transition_at.is_some_and(|t| at >= t) {
            Phase::Transition
        } else {
            Phase::BeforeTransition
        }
    }

    /// The first instant strictly after `at` at which the phase changes, if any.
    pub fn next_change_after(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        [self.transition_at, Some(self.cutover_at)]
            .into_iter()
            .flatten()
            .filter(|b| *b > at && self.phase_at(*b) != self.phase_at(at))
            .min()
    }

    /// When the transition starts (none when there is no transition phase).
    pub fn transition_at(&self) -> Option<DateTime<Utc>> {
        self.transition_at
    }

    /// When the cutover starts.
    pub fn cutover_at(&self) -> DateTime<Utc> {
        self.cutover_at
    }

    /// Reads an instant for `--at`: `2019-02-01` (00:00 local), `2019-02-01T10:30[:00]`
    /// or `2019-02-01 10:30[:00]` (local time), or RFC 3339 with an offset.
    pub fn parse_instant(&self, s: &str) -> Option<DateTime<Utc>> {
        let s = s.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Some(t.to_utc());
        }
        if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            return local_midnight(self.time_zone, d).ok();
        }
        [
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%d %H:%M",
        ]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(s, f).ok())
        .and_then(|local| self.time_zone.from_local_datetime(&local).earliest())
        .map(|t| t.to_utc())
    }
}

/// Both seed dates are valid constants; this fallback only satisfies the type.
fn unreachable_calendar() -> Calendar {
    let at = DateTime::<Utc>::UNIX_EPOCH;
    Calendar {
        time_zone: chrono_tz::UTC,
        transition_from: None,
        esia_only_from: NaiveDate::default(),
        legacy_login: LegacyLogin::Restricted,
        transition_at: None,
        cutover_at: at,
    }
}

/// 00:00 local on `date`; if midnight does not exist (a DST jump at midnight, as in
/// some zones' history), the first existing local minute after it; if it exists twice,
/// the earlier one.
fn local_midnight(tz: Tz, date: NaiveDate) -> Result<DateTime<Utc>, CalendarError> {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    for minutes in 0..(26 * 60) {
        let local = midnight + TimeDelta::minutes(minutes);
        if let Some(t) = tz.from_local_datetime(&local).earliest() {
            return Ok(t.to_utc());
        }
    }
    Err(CalendarError::NoLocalMidnight(date))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msk(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("{s}+03:00"))
            .unwrap()
            .to_utc()
    }

    #[test]
    fn seed_004_boundaries_in_moscow_time() {
        let c = Calendar::seed_004();
        assert_eq!(
            c.phase_at(msk("2018-08-31T23:59:59")),
            Phase::BeforeTransition
        );
        assert_eq!(c.phase_at(msk("2018-09-01T00:00:00")), Phase::Transition);
        assert_eq!(c.phase_at(msk("2018-12-31T23:59:59")), Phase::Transition);
        assert_eq!(
            c.phase_at(msk("2019-01-01T00:00:00")),
            Phase::Cutover(LegacyLogin::Restricted)
        );
        // 2018-12-31 21:00 UTC is already 2019 in Moscow.
        let utc = DateTime::parse_from_rfc3339("2018-12-31T21:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(c.phase_at(utc), Phase::Cutover(LegacyLogin::Restricted));
        assert_eq!(c.phase_at(utc - TimeDelta::seconds(1)), Phase::Transition);
    }

    #[test]
    fn seed_000_has_no_transition() {
        let c = Calendar::seed_000();
        assert_eq!(
            c.phase_at(msk("2015-12-31T23:59:59")),
            Phase::BeforeTransition
        );
        assert_eq!(
            c.phase_at(msk("2016-01-01T00:00:00")),
            Phase::Cutover(LegacyLogin::Disabled)
        );
        let d = NaiveDate::from_ymd_opt(2016, 1, 1).unwrap();
        let same =
            Calendar::new(chrono_tz::Europe::Moscow, Some(d), d, LegacyLogin::Disabled).unwrap();
        assert_eq!(
            same.phase_at(msk("2015-12-31T23:59:59")),
            Phase::BeforeTransition
        );
        assert_eq!(
            same.phase_at(msk("2016-01-01T00:00:00")),
            Phase::Cutover(LegacyLogin::Disabled)
        );
    }

    #[test]
    fn next_change_walks_the_boundaries() {
        let c = Calendar::seed_004();
        assert_eq!(
            c.next_change_after(msk("2018-01-01T12:00:00")),
            Some(msk("2018-09-01T00:00:00"))
        );
        assert_eq!(
            c.next_change_after(msk("2018-09-01T00:00:00")),
            Some(msk("2019-01-01T00:00:00"))
        );
        assert_eq!(c.next_change_after(msk("2019-01-01T00:00:00")), None);
        let z = Calendar::seed_000();
        assert_eq!(
            z.next_change_after(msk("2015-06-01T00:00:00")),
            Some(msk("2016-01-01T00:00:00"))
        );
    }

    #[test]
    fn instants_for_the_cli() {
        let c = Calendar::seed_004();
        assert_eq!(
            c.parse_instant("2019-01-01"),
            Some(msk("2019-01-01T00:00:00"))
        );
        assert_eq!(
            c.parse_instant("2018-12-31T23:59:59"),
            Some(msk("2018-12-31T23:59:59"))
        );
        assert_eq!(
            c.parse_instant("2018-12-31 23:59"),
            Some(msk("2018-12-31T23:59:00"))
        );
        assert_eq!(
            c.parse_instant("2018-12-31T21:00:00Z"),
            Some(msk("2019-01-01T00:00:00"))
        );
        for bad in [
            "",
            "tomorrow",
            "2019-02-30",
            "01.01.2019",
            "2019-01-01T25:00",
        ] {
            assert_eq!(c.parse_instant(bad), None, "{bad}");
        }
    }

    #[test]
    fn wrong_order_is_refused() {
        let a = NaiveDate::from_ymd_opt(2019, 1, 1).unwrap();
        let b = NaiveDate::from_ymd_opt(2018, 9, 1).unwrap();
        let err = Calendar::new(
            chrono_tz::Europe::Moscow,
            Some(a),
            b,
            LegacyLogin::Restricted,
        );
        assert!(matches!(
            err,
            Err(CalendarError::TransitionAfterCutover { .. })
        ));
    }

    #[test]
    fn other_time_zones_and_missing_midnights() {
        let d = NaiveDate::from_ymd_opt(2019, 1, 1).unwrap();
        let c = Calendar::new(
            chrono_tz::Asia::Vladivostok,
            None,
            d,
            LegacyLogin::Restricted,
        )
        .unwrap();
        let at = DateTime::parse_from_rfc3339("2018-12-31T14:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(c.cutover_at(), at);
        // America/Sao_Paulo jumped from 00:00 to 01:00 on 2018-11-04.
        let gap = NaiveDate::from_ymd_opt(2018, 11, 4).unwrap();
        let c = Calendar::new(
            chrono_tz::America::Sao_Paulo,
            None,
            gap,
            LegacyLogin::Disabled,
        )
        .unwrap();
        let want = DateTime::parse_from_rfc3339("2018-11-04T01:00:00-02:00")
            .unwrap()
            .to_utc();
        assert_eq!(c.cutover_at(), want);
    }
}
