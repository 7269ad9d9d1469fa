//! Standard 5-field cron expressions (`minute hour day-of-month month
//! day-of-week`), as platform teams write them for sleep and wake schedules.

use std::str::FromStr;

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
        let day_of_week = standard_days_of_week(fields[4]).map_err(err)?;
        let full = format!(
            "0 {} {} {} {} {}",
            fields[0], fields[1], fields[2], fields[3], day_of_week
        );
        let schedule = cron::Schedule::from_str(&full).map_err(|e| err(e.to_string()))?;
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
}
