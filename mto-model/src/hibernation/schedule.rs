//! Standard 5-field cron expressions (`minute hour day-of-month month
//! day-of-week`), as platform teams write them for sleep and wake schedules.

use std::str::FromStr;

use crate::Timestamp;

/// A parsed 5-field cron expression.
#[derive(Clone, Debug)]
pub struct Cron {
    source: String,
    schedule: cron::Schedule,
}

impl PartialEq for Cron {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// Why a cron expression was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{expression:?} is not a valid cron expression: {reason}")]
pub struct CronError {
    /// The expression as written.
    pub expression: String,
    /// What is wrong with it.
    pub reason: String,
}

/// The first four fields: their names and ranges, in the user's terms.
const FIELD_RANGES: [(&str, u32, u32); 4] = [
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day-of-month", 1, 31),
    ("month", 1, 12),
];

const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// Checks one of the first four fields (`*`, numbers, ranges, lists,
/// steps; month names for the month) against its range.
fn check_field(field: &str, name: &str, min: u32, max: u32) -> Result<(), String> {
    for part in field.split(',') {
        let (range, step) = part.split_once('/').unwrap_or((part, "1"));
        match step.parse::<u32>() {
            Ok(s) if s >= 1 => {}
            _ => {
                return Err(format!(
                    "the {name} step {step:?} is not a whole number of at least 1"
                ));
            }
        }
        if range == "*" || range == "?" {
            continue;
        }
        let (from, to) = range.split_once('-').unwrap_or((range, range));
        let value = |text: &str| -> Result<u32, String> {
            let month = MONTH_NAMES
                .iter()
                .zip(1..)
                .find(|(m, _)| name == "month" && m.eq_ignore_ascii_case(text));
            if let Some((_, number)) = month {
                return Ok(number);
            }
            match text.parse::<u32>() {
                Ok(v) if (min..=max).contains(&v) => Ok(v),
                Ok(v) => Err(format!("{name} {v} is out of range: use {min}-{max}")),
                Err(_) => Err(format!(
                    "{name} {text:?} is not a number{}",
                    if name == "month" {
                        " or a month name (JAN-DEC)"
                    } else {
                        ""
                    }
                )),
            }
        };
        let (from, to) = (value(from)?, value(to)?);
        if from > to {
            return Err(format!("the {name} range {range:?} runs backwards"));
        }
    }
    Ok(())
}

const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl Cron {
    /// Parses `minute hour day-of-month month day-of-week`. Day-of-week
    /// follows standard cron: 0 and 7 are Sunday, 1 is Monday; names
    /// (`MON-FRI`) work too.
    pub fn parse(expression: &str) -> Result<Cron, CronError> {
        let err = |reason: String| CronError {
            expression: expression.to_owned(),
            reason,
        };
        let fields: Vec<&str> = expression.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(err(format!(
                "it has {} fields; write 5: minute hour day-of-month month day-of-week",
                fields.len()
            )));
        }
        for (field, (name, min, max)) in fields.iter().zip(FIELD_RANGES) {
            check_field(field, name, min, max).map_err(err)?;
        }
        let day_of_week = standard_days_of_week(fields[4]).map_err(err)?;
        let full = format!(
            "0 {} {} {} {} {}",
            fields[0], fields[1], fields[2], fields[3], day_of_week
        );
        // What the checks above let through and the parser still refuses
        // is said in its words, on one line.
        let schedule = cron::Schedule::from_str(&full).map_err(|e| {
            err(e
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "))
        })?;
        Ok(Cron {
            source: expression.to_owned(),
            schedule,
        })
    }

    /// The expression as written.
    #[must_use]
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The underlying schedule (with a leading seconds field of 0).
    #[must_use]
    pub fn schedule(&self) -> &cron::Schedule {
        &self.schedule
    }
}

/// Rewrites a standard day-of-week field as day names, since the `cron`
/// crate numbers days 1 (Sunday) to 7 while standard cron uses 0/7 (Sunday)
/// to 6.
fn standard_days_of_week(field: &str) -> Result<String, String> {
    if field == "*" || field == "?" {
        return Ok("*".into());
    }
    let mut days = [false; 7];
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<usize>()
                    .map_err(|_| format!("day-of-week step {s:?} is not a number"))?,
            ),
            None => (part, 1),
        };
        if step == 0 {
            return Err("day-of-week step must be at least 1".into());
        }
        let (from, to) = match range {
            "*" => (0, 6),
            _ => match range.split_once('-') {
                Some((a, b)) => (day_number(a)?, day_number(b)?),
                None if part.contains('/') => (day_number(range)?, 6),
                None => {
                    let d = day_number(range)?;
                    (d, d)
                }
            },
        };
        if from > to {
            return Err(format!("day-of-week range {range:?} runs backwards"));
        }
        for d in (from..=to).step_by(step) {
            days[d % 7] = true;
        }
    }
    let names: Vec<&str> = (0..7).filter(|d| days[*d]).map(|d| DAY_NAMES[d]).collect();
    Ok(names.join(","))
}

fn day_number(text: &str) -> Result<usize, String> {
    if let Some(i) = DAY_NAMES.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        return Ok(i);
    }
    match text.parse::<usize>() {
        Ok(n) if n <= 7 => Ok(n),
        _ => Err(format!("day-of-week {text:?} is not 0-7 or SUN-SAT")),
    }
}

/// When a supervisor sleeps and wakes: its cron schedules, read as
/// wall-clock times in one IANA time zone.
///
/// DST: a wall-clock time that does not exist that day (the hour skipped
/// in spring) fires once, at the first instant after the gap; a time that
/// happens twice (the hour repeated in autumn) fires once, the first time.
#[derive(Clone, Debug, PartialEq)]
pub struct Hibernation {
    /// `None`: sleep now, until the supervisor is removed.
    sleep: Option<Cron>,
    /// `None`: once asleep, sleep until the supervisor is removed.
    wake: Option<Cron>,
    zone: chrono_tz::Tz,
}

/// Whether workloads should be running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Wakefulness {
    /// Running at their own replica counts.
    Awake,
    /// Scaled to zero.
    Asleep,
}

/// How far back a schedule looks for its last firing: a year and a day
/// covers every 5-field expression that fires at all.
const LOOKBACK_FIRINGS: usize = 600_000;

/// Schedules compiled so far. Supervisors share a handful of schedules
/// and every decision reads one, so each is parsed once per process, not
/// once per decision. Bounded: a cluster with more distinct schedules than
/// this starts over.
static COMPILED: std::sync::LazyLock<
    std::sync::Mutex<
        std::collections::HashMap<crate::api::SleepSchedule, std::sync::Arc<Hibernation>>,
    >,
> = std::sync::LazyLock::new(Default::default);
const COMPILED_AT_MOST: usize = 4096;

impl Hibernation {
    /// [`Hibernation::compile`], once per distinct schedule.
    pub fn compiled(
        schedule: &crate::api::SleepSchedule,
    ) -> Result<std::sync::Arc<Hibernation>, Vec<(&'static str, String)>> {
        // A poisoned cache only ever held finished entries: keep using it.
        let cached = |cache: &std::collections::HashMap<_, std::sync::Arc<Hibernation>>| {
            cache.get(schedule).cloned()
        };
        if let Some(hit) = cached(
            &COMPILED
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        ) {
            return Ok(hit);
        }
        let compiled = std::sync::Arc::new(Hibernation::compile(schedule)?);
        let mut cache = COMPILED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= COMPILED_AT_MOST {
            cache.clear();
        }
        cache.insert(schedule.clone(), compiled.clone());
        Ok(compiled)
    }

    /// Compiles a supervisor's schedule; every problem names its field.
    pub fn compile(
        schedule: &crate::api::SleepSchedule,
    ) -> Result<Hibernation, Vec<(&'static str, String)>> {
        let mut problems = Vec::new();
        let sleep = match schedule.sleep_schedule.trim() {
            "" => None,
            text => Cron::parse(text)
                .map_err(|e| problems.push(("spec.schedule.sleepSchedule", e.to_string())))
                .ok(),
        };
        let wake = match schedule.wake_schedule.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Cron::parse(text)
                .map_err(|e| problems.push(("spec.schedule.wakeSchedule", e.to_string())))
                .ok(),
        };
        let zone = match schedule.time_zone.as_deref().map(str::trim) {
            None | Some("") => chrono_tz::UTC,
            Some(tz) => tz.parse::<chrono_tz::Tz>().unwrap_or_else(|_| {
                problems.push((
                    "spec.schedule.timeZone",
                    format!("{tz:?} is not an IANA time zone (e.g. \"Europe/Berlin\", \"UTC\")"),
                ));
                chrono_tz::UTC
            }),
        };
        if problems.is_empty() {
            Ok(Hibernation { sleep, wake, zone })
        } else {
            Err(problems)
        }
    }

    /// Asleep or awake at `t`, for a supervisor that exists since `since`.
    ///
    /// With both schedules, whichever fired last wins (a wake and a sleep at
    /// the same instant: awake). Without a wake schedule, asleep once the
    /// sleep schedule has fired since `since`. With an empty sleep
    /// schedule, always asleep.
    #[must_use]
    pub fn state_at(&self, t: Timestamp, since: Timestamp) -> Wakefulness {
        let Some(sleep) = &self.sleep else {
            return Wakefulness::Asleep;
        };
        let last_sleep = last_firing(sleep, self.zone, t);
        match &self.wake {
            None => match last_sleep {
                Some(s) if s >= since => Wakefulness::Asleep,
                _ => Wakefulness::Awake,
            },
            Some(wake) => match (last_sleep, last_firing(wake, self.zone, t)) {
                (Some(s), Some(w)) if s > w => Wakefulness::Asleep,
                (Some(_), None) => Wakefulness::Asleep,
                _ => Wakefulness::Awake,
            },
        }
    }

    /// The first instant after `t` at which [`Hibernation::state_at`]
    /// changes; `None` if it never does.
    #[must_use]
    pub fn next_transition(&self, t: Timestamp, since: Timestamp) -> Option<Timestamp> {
        let sleep = self.sleep.as_ref()?;
        let now = self.state_at(t, since);
        let cron = match (now, &self.wake) {
            (Wakefulness::Asleep, None) => return None,
            (Wakefulness::Awake, _) => sleep,
            (Wakefulness::Asleep, Some(wake)) => wake,
        };
        // A firing that coincides with the other schedule's changes
        // nothing (wake wins ties); look on to the next.
        let mut cursor = t;
        for _ in 0..1000 {
            let fire = next_firing(cron, self.zone, cursor)?;
            if self.state_at(fire, since) != now {
                return Some(fire);
            }
            cursor = fire;
        }
        None
    }
}

/// The instant a wall-clock minute in `zone` stands for: the first of two
/// in the repeated hour; the end of the gap for a skipped one.
fn instant_of(zone: chrono_tz::Tz, local: chrono::NaiveDateTime) -> Option<Timestamp> {
    use chrono::{LocalResult, TimeZone};
    let mut minute = local;
    // Gaps last at most a few hours; step through one minute at a time.
    for _ in 0..(48 * 60) {
        match zone.from_local_datetime(&minute) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => {
                return Timestamp::from_second(t.timestamp()).ok();
            }
            LocalResult::None => minute += chrono::Duration::minutes(1),
        }
    }
    None
}

/// Wall-clock minutes matching `cron`, read in UTC (which has no DST) so
/// that every minute of the calendar is visited exactly once.
fn wall_clock(
    t: Timestamp,
    zone: chrono_tz::Tz,
    shift_hours: i64,
) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    let utc = chrono::DateTime::from_timestamp(t.as_second(), 0).unwrap_or_default();
    let local = utc.with_timezone(&zone).naive_local() + chrono::Duration::hours(shift_hours);
    chrono::Utc.from_utc_datetime(&local)
}

/// The first firing strictly after `t`.
fn next_firing(cron: &Cron, zone: chrono_tz::Tz, t: Timestamp) -> Option<Timestamp> {
    // Start a few hours early: after an autumn fall-back, wall-clock
    // minutes before `t`'s own may still lie ahead.
    let start = wall_clock(t, zone, -3);
    cron.schedule()
        .after(&start)
        .take(LOOKBACK_FIRINGS)
        .filter_map(|local| instant_of(zone, local.naive_utc()))
        .find(|fire| *fire > t)
}

/// The last firing at or before `t`.
fn last_firing(cron: &Cron, zone: chrono_tz::Tz, t: Timestamp) -> Option<Timestamp> {
    let start = wall_clock(t, zone, 3);
    cron.schedule()
        .after(&start)
        .rev()
        .take(LOOKBACK_FIRINGS)
        .filter_map(|local| instant_of(zone, local.naive_utc()))
        .find(|fire| *fire <= t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn weekdays_are_monday_to_friday() {
        let cron = Cron::parse("0 20 * * 1-5").unwrap_or_else(|e| panic!("{e}"));
        // 2026-11-27 is a Friday, 2026-11-28 a Saturday.
        let friday = Utc.with_ymd_and_hms(2026, 11, 27, 20, 0, 0).single();
        let saturday = Utc.with_ymd_and_hms(2026, 11, 28, 20, 0, 0).single();
        assert!(friday.is_some_and(|t| cron.schedule().includes(t)));
        assert!(saturday.is_some_and(|t| !cron.schedule().includes(t)));
    }

    #[test]
    fn sunday_is_zero_and_seven() {
        assert_eq!(standard_days_of_week("0"), Ok("SUN".into()));
        assert_eq!(standard_days_of_week("7"), Ok("SUN".into()));
        assert_eq!(standard_days_of_week("*/2"), Ok("SUN,TUE,THU,SAT".into()));
        assert_eq!(standard_days_of_week("sat,1"), Ok("MON,SAT".into()));
    }

    #[test]
    fn out_of_range_values_are_named_in_five_field_terms() {
        let reason = |e: &str| {
            Cron::parse(e)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert_eq!(
            reason("0 24 * * *"),
            "\"0 24 * * *\" is not a valid cron expression: hour 24 is out of range: use 0-23"
        );
        assert!(reason("60 1 * * *").ends_with("minute 60 is out of range: use 0-59"));
        assert!(reason("0 1 0 * *").ends_with("day-of-month 0 is out of range: use 1-31"));
        assert!(reason("0 1 * 13 *").ends_with("month 13 is out of range: use 1-12"));
        assert!(reason("0 1 * FOO *").contains("not a number or a month name"));
        assert!(reason("0 9-5 * * *").ends_with("the hour range \"9-5\" runs backwards"));
        assert!(reason("*/0 * * * *").contains("minute step"));
        for e in ["0 20 * * 1-5", "*/15 8-18 1,15 JAN-mar *", "0 0 31 12 0"] {
            assert!(Cron::parse(e).is_ok(), "{e}");
        }
        assert!(!reason("0 1 * * 8").contains('\n'));
    }

    #[test]
    fn refuses_with_a_reason() {
        for bad in [
            "",
            "* * * *",
            "0 0 * * * *",
            "61 * * * *",
            "0 0 * * 8",
            "0 0 * * 5-1",
            "x * * * *",
        ] {
            let e = Cron::parse(bad).expect_err(bad);
            assert!(!e.reason.is_empty());
        }
    }

    mod windows {
        use proptest::prelude::*;

        use super::super::*;
        use crate::api::SleepSchedule;

        fn at(text: &str) -> Timestamp {
            text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
        }

        fn hibernation(sleep: &str, wake: Option<&str>, zone: &str) -> Hibernation {
            Hibernation::compile(&SleepSchedule {
                sleep_schedule: sleep.into(),
                wake_schedule: wake.map(Into::into),
                time_zone: Some(zone.into()),
            })
            .unwrap_or_else(|e| panic!("{e:?}"))
        }

        const LONG_AGO: &str = "2020-01-01T00:00:00Z";

        #[test]
        fn a_night_across_midnight() {
            let h = hibernation("0 22 * * *", Some("0 6 * * *"), "UTC");
            let since = at(LONG_AGO);
            assert_eq!(
                h.state_at(at("2026-11-25T21:59:00Z"), since),
                Wakefulness::Awake
            );
            assert_eq!(
                h.state_at(at("2026-11-25T22:00:00Z"), since),
                Wakefulness::Asleep
            );
            assert_eq!(
                h.state_at(at("2026-11-26T05:59:00Z"), since),
                Wakefulness::Asleep
            );
            assert_eq!(
                h.state_at(at("2026-11-26T06:00:00Z"), since),
                Wakefulness::Awake
            );
            assert_eq!(
                h.next_transition(at("2026-11-25T23:00:00Z"), since),
                Some(at("2026-11-26T06:00:00Z"))
            );
        }

        #[test]
        fn a_weekend_in_berlin_sleeps_from_friday_evening_to_monday_morning() {
            let h = hibernation("0 20 * * 1-5", Some("0 7 * * 1-5"), "Europe/Berlin");
            let since = at(LONG_AGO);
            // Friday 2026-11-27 20:00 CET is 19:00 UTC.
            assert_eq!(
                h.state_at(at("2026-11-27T18:59:00Z"), since),
                Wakefulness::Awake
            );
            assert_eq!(
                h.state_at(at("2026-11-28T12:00:00Z"), since),
                Wakefulness::Asleep
            );
            assert_eq!(
                h.next_transition(at("2026-11-27T19:30:00Z"), since),
                Some(at("2026-11-30T06:00:00Z")),
                "Monday 07:00 CET"
            );
        }

        #[test]
        fn a_skipped_wall_clock_time_fires_once_at_the_end_of_the_gap() {
            // Berlin skips 02:00-03:00 on 2026-03-29.
            let h = hibernation("30 2 * * *", Some("0 9 * * *"), "Europe/Berlin");
            let since = at(LONG_AGO);
            assert_eq!(
                h.next_transition(at("2026-03-28T12:00:00Z"), since),
                Some(at("2026-03-29T01:00:00Z")),
                "03:00 CEST, the first instant after the gap"
            );
            assert_eq!(
                h.state_at(at("2026-03-29T01:00:00Z"), since),
                Wakefulness::Asleep
            );
            assert_eq!(
                h.state_at(at("2026-03-29T00:59:00Z"), since),
                Wakefulness::Awake
            );
        }

        #[test]
        fn a_repeated_wall_clock_time_fires_once_the_first_time() {
            // Berlin repeats 02:00-03:00 on 2026-10-25: 02:30 CEST (00:30 UTC), then 02:30 CET (01:30 UTC).
            let h = hibernation("30 2 * * *", Some("0 1 * * *"), "Europe/Berlin");
            let since = at(LONG_AGO);
            assert_eq!(
                h.next_transition(at("2026-10-24T23:30:00Z"), since),
                Some(at("2026-10-25T00:30:00Z"))
            );
            // The second 02:30 is not a firing: the next sleep is the next night's.
            assert_eq!(
                next_firing(
                    h.sleep.as_ref().expect("sleep"),
                    h.zone,
                    at("2026-10-25T00:30:00Z")
                ),
                Some(at("2026-10-26T01:30:00Z"))
            );
        }

        #[test]
        fn without_a_wake_schedule_it_sleeps_for_good_once_asleep() {
            let h = hibernation("0 20 * * *", None, "UTC");
            let since = at("2026-11-25T10:00:00Z");
            assert_eq!(
                h.state_at(at("2026-11-25T19:00:00Z"), since),
                Wakefulness::Awake
            );
            assert_eq!(
                h.next_transition(at("2026-11-25T19:00:00Z"), since),
                Some(at("2026-11-25T20:00:00Z"))
            );
            assert_eq!(
                h.state_at(at("2026-11-29T12:00:00Z"), since),
                Wakefulness::Asleep
            );
            assert_eq!(h.next_transition(at("2026-11-29T12:00:00Z"), since), None);
        }

        #[test]
        fn an_empty_sleep_schedule_sleeps_now_until_removed() {
            let h = hibernation("", Some("0 7 * * *"), "UTC");
            let t = at("2026-11-25T12:00:00Z");
            assert_eq!(h.state_at(t, t), Wakefulness::Asleep);
            assert_eq!(h.next_transition(t, t), None);
        }

        #[test]
        fn bad_schedules_name_their_fields() {
            let problems = Hibernation::compile(&SleepSchedule {
                sleep_schedule: "0 25 * * *".into(),
                wake_schedule: Some("every morning".into()),
                time_zone: Some("Mars/Olympus".into()),
            })
            .expect_err("invalid");
            let fields: Vec<&str> = problems.iter().map(|(f, _)| *f).collect();
            assert_eq!(
                fields,
                [
                    "spec.schedule.sleepSchedule",
                    "spec.schedule.wakeSchedule",
                    "spec.schedule.timeZone"
                ]
            );
        }

        const ZONES: [&str; 5] = [
            "UTC",
            "Europe/Berlin",
            "America/New_York",
            "Australia/Lord_Howe",
            "Asia/Kolkata",
        ];

        fn cron() -> impl Strategy<Value = String> {
            (
                prop::sample::select(vec!["0", "30", "*/20", "15,45"]),
                prop::sample::select(vec!["*", "2", "1-3", "22", "*/6", "7"]),
                prop::sample::select(vec!["*", "1-5", "0,6", "5"]),
            )
                .prop_map(|(m, h, d)| format!("{m} {h} * * {d}"))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(200))]

            /// The next transition is after t, really changes the state,
            /// and nothing changes before it.
            #[test]
            fn the_next_transition_is_the_first_change(
                sleep in cron(),
                wake in prop::option::of(cron()),
                zone in prop::sample::select(ZONES.to_vec()),
                // 2026, through both DST changes of every zone above.
                offset in 0i64..(365 * 24 * 3600),
                since_back in 0i64..(14 * 24 * 3600),
            ) {
                let h = hibernation(&sleep, wake.as_deref(), zone);
                let t = Timestamp::from_second(1_767_225_600 + offset).expect("t");
                let since = Timestamp::from_second(t.as_second() - since_back).expect("since");
                let now = h.state_at(t, since);
                if let Some(next) = h.next_transition(t, since) {
                    prop_assert!(next > t);
                    prop_assert_ne!(h.state_at(next, since), now);
                    for before in [next.as_second() - 1, t.as_second() + (next.as_second() - t.as_second()) / 2] {
                        let before = Timestamp::from_second(before).expect("before");
                        if before >= t {
                            prop_assert_eq!(h.state_at(before, since), now);
                        }
                    }
                } else {
                    // No transition: the state holds a week later.
                    let later = Timestamp::from_second(t.as_second() + 7 * 24 * 3600).expect("later");
                    prop_assert_eq!(h.state_at(later, since), now);
                }
            }
        }
    }
}
