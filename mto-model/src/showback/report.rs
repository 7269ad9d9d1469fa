//! Reports from stored hourly records: OpenCost's allocation query
//! (`window`, `step`, `aggregate`, `accumulate`, `shareIdle`) answered
//! from [`Record`]s and the nodes' capacity per hour.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    Aggregate, Allocation, Cost, IDLE, Prices, ResourceSeconds, cost, idle_cost, share_idle,
};

/// Seconds in an hour, a day, a week.
const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;
const WEEK: i64 = 7 * DAY;

/// One container's (or claim's) hour, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Record {
    /// The hour's start, Unix seconds.
    pub hour: i64,
    /// The tenant of the namespace at the time.
    pub tenant: Option<String>,
    /// The namespace.
    pub namespace: String,
    /// The pod (`persistentvolumeclaim/NAME` for a claim).
    pub pod: String,
    /// The container (`volume` for a claim).
    pub container: String,
    /// The pod's labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// What it held.
    pub used: ResourceSeconds,
    /// What that cost.
    pub cost: Cost,
}

impl Record {
    /// Its group by `by`.
    #[must_use]
    pub fn key(&self, by: &Aggregate) -> std::borrow::Cow<'_, str> {
        by.key_of(
            self.tenant.as_deref(),
            &self.namespace,
            &self.pod,
            &self.container,
            &self.labels,
        )
    }

    /// The record with measured usage in place of the assumed one, priced
    /// again.
    #[must_use]
    pub fn with_usage(mut self, usage: Usage, prices: &Prices) -> Record {
        self.used.cpu_usage = usage.cpu;
        self.used.ram_usage = usage.ram;
        self.cost = cost(&self.used, prices);
        self
    }
}

/// The hourly records of `containers` over `[start, end)` at `prices`:
/// [`super::for_each_row`]'s rows, named.
#[must_use]
pub fn records(
    containers: &[super::Container],
    start: i64,
    end: i64,
    prices: &Prices,
) -> Vec<Record> {
    let mut out = Vec::new();
    super::for_each_row(containers, start, end, prices, |row| {
        let Some(c) = usize::try_from(row.container)
            .ok()
            .and_then(|i| containers.get(i))
        else {
            return;
        };
        out.push(Record {
            hour: row.hour,
            tenant: c.tenant.clone(),
            namespace: c.namespace.clone(),
            pod: c.pod.clone(),
            container: c.container.clone(),
            labels: c.labels.clone(),
            used: row.used,
            cost: row.cost,
        });
    });
    out
}

/// What a container used over an hour, measured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// CPU: milli-cores × seconds.
    pub cpu: i64,
    /// Memory working set: bytes × seconds.
    pub ram: i64,
}

/// An allocation query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    /// From, Unix seconds (an hour's start).
    pub start: i64,
    /// To, Unix seconds (an hour's start; the hour before it included).
    pub end: i64,
    /// Each set's length in seconds (whole hours); the window when none.
    pub step: Option<i64>,
    /// How records are grouped.
    pub aggregate: Aggregate,
    /// One set for the whole window, whatever the step.
    pub accumulate: bool,
    /// The cluster's idle cost shared over the groups by their cost.
    pub share_idle: bool,
}

/// One step of a report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Set {
    /// From, Unix seconds.
    pub start: i64,
    /// To, Unix seconds.
    pub end: i64,
    /// The groups.
    pub groups: BTreeMap<String, Allocation>,
}

/// The report `query` asks for, from `records` and what the nodes'
/// capacity cost per hour: a set per step, idle (capacity cost less
/// allocated cost) shared or reported as [`IDLE`].
#[must_use]
pub fn report(records: &[Record], capacity: &BTreeMap<i64, Cost>, query: &Query) -> Vec<Set> {
    let whole = (query.end - query.start).max(HOUR);
    let step = if query.accumulate {
        whole
    } else {
        query.step.unwrap_or(whole).max(HOUR)
    };
    let mut sets: Vec<(Set, Cost)> = (query.start..query.end)
        .step_by(usize::try_from(step).unwrap_or(usize::MAX))
        .map(|start| {
            let set = Set {
                start,
                end: (start + step).min(query.end),
                groups: BTreeMap::new(),
            };
            (set, Cost::default())
        })
        .collect();
    // One pass over the records, each into its step.
    for r in records {
        if r.hour < query.start || r.hour >= query.end {
            continue;
        }
        let Some((set, allocated)) = usize::try_from((r.hour - query.start) / step)
            .ok()
            .and_then(|i| sets.get_mut(i))
        else {
            continue;
        };
        let key = r.key(&query.aggregate);
        let a = match set.groups.get_mut(key.as_ref()) {
            Some(a) => a,
            None => set.groups.entry(key.into_owned()).or_default(),
        };
        a.used = a.used.plus(r.used);
        a.cost = a.cost.plus(r.cost);
        *allocated = allocated.plus(r.cost);
    }
    sets.into_iter()
        .map(|(mut set, allocated)| {
            let offered = capacity
                .range(set.start..set.end)
                .map(|(_, c)| *c)
                .fold(Cost::default(), Cost::plus);
            let idle = idle_cost(&offered, &allocated);
            if query.share_idle {
                share_idle(&mut set.groups, idle);
            } else if idle > 0 {
                set.groups.entry(IDLE.into()).or_default().idle += idle;
            }
            set
        })
        .collect()
}

/// A duration as OpenCost writes it: `90m`, `24h`, `7d`, `2w`; seconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let fail = || format!("{text:?}: write a number and a unit, such as 90m, 24h, 7d or 2w");
    // The unit is the last character, whatever its width.
    let unit_at = text
        .char_indices()
        .last()
        .map(|(i, _)| i)
        .ok_or_else(fail)?;
    let (number, unit) = text.split_at(unit_at);
    let n: i64 = number.parse().map_err(|_| fail())?;
    let per = match unit {
        "m" => 60,
        "h" => HOUR,
        "d" => DAY,
        "w" => WEEK,
        _ => return Err(fail()),
    };
    n.checked_mul(per).filter(|s| *s > 0).ok_or_else(fail)
}

/// An instant as Unix seconds or RFC 3339, within the years a
/// timestamp can name.
fn instant(text: &str) -> Option<i64> {
    text.parse::<i64>()
        .ok()
        .filter(|t| crate::Timestamp::from_second(*t).is_ok())
        .or_else(|| text.parse::<crate::Timestamp>().ok().map(|t| t.as_second()))
}

/// The most sets a report holds: a window cut into more steps is refused.
pub const MAX_SETS: i64 = 10_000;

/// A window as OpenCost writes it, at `now` (Unix seconds): a duration
/// ending now (`24h`, `7d`), `today`, `yesterday`, `week`, `lastweek`,
/// `month`, `lastmonth` (UTC), or `START,END` as Unix seconds or RFC 3339.
/// Widened to whole hours.
pub fn parse_window(text: &str, now: i64) -> Result<(i64, i64), String> {
    let today = now.div_euclid(DAY) * DAY;
    // 1970-01-01 was a Thursday; weeks start on Sunday, as OpenCost's do.
    let week = today - (today / DAY + 4).rem_euclid(7) * DAY;
    let month_start = |t: i64| {
        crate::Timestamp::from_second(t)
            .ok()
            .map(|ts| ts.to_zoned(k8s_openapi::jiff::tz::TimeZone::UTC))
            .and_then(|z| {
                z.date()
                    .first_of_month()
                    .to_zoned(z.time_zone().clone())
                    .ok()
            })
            .map_or(t, |z| z.timestamp().as_second())
    };
    let (start, end) = match text {
        "today" => (today, now),
        "yesterday" => (today - DAY, today),
        "week" => (week, now),
        "lastweek" => (week - WEEK, week),
        "month" => (month_start(now), now),
        "lastmonth" => {
            let this = month_start(now);
            (month_start(this - 1), this)
        }
        other => match other.split_once(',') {
            Some((a, b)) => {
                let read = |t: &str| {
                    instant(t.trim()).ok_or_else(|| {
                        format!("window {text:?}: {t:?} is neither Unix seconds nor RFC 3339")
                    })
                };
                (read(a)?, read(b)?)
            }
            None => {
                let span = parse_duration(other).map_err(|e| {
                    format!(
                        "window {e}; or today, yesterday, week, lastweek, month, lastmonth, or START,END"
                    )
                })?;
                (now.saturating_sub(span), now)
            }
        },
    };
    if end <= start {
        return Err(format!("window {text:?}: its end is not after its start"));
    }
    if crate::Timestamp::from_second(start).is_err() || crate::Timestamp::from_second(end).is_err()
    {
        return Err(format!(
            "window {text:?}: reaches outside the years a timestamp can name; give a shorter one"
        ));
    }
    let hour_up = |t: i64| t.saturating_add(HOUR - 1).div_euclid(HOUR) * HOUR;
    Ok((start.div_euclid(HOUR) * HOUR, hour_up(end)))
}

impl Query {
    /// A query from OpenCost's parameters, at `now` (Unix seconds):
    /// `window` (see [`parse_window`]), `aggregate` (see
    /// [`Aggregate::parse`]), `step` (a duration), `accumulate`,
    /// `shareIdle`. Each error names the parameter and what it takes.
    pub fn from_params(
        window: &str,
        aggregate: &str,
        step: Option<&str>,
        accumulate: bool,
        share_idle: bool,
        now: i64,
    ) -> Result<Query, String> {
        let (start, end) = parse_window(window, now)?;
        let aggregate = Aggregate::parse(aggregate)?;
        let step = step
            .map(|s| {
                parse_duration(s)
                    .map_err(|e| format!("step {e}"))
                    .and_then(|seconds| {
                        if seconds % HOUR == 0 {
                            Ok(seconds)
                        } else {
                            Err(format!(
                                "step {s:?}: records are hourly; use whole hours (1h, 24h, 7d)"
                            ))
                        }
                    })
            })
            .transpose()?;
        let sets = (end - start).div_euclid(step.unwrap_or(end - start).max(HOUR));
        if !accumulate && sets > MAX_SETS {
            return Err(format!(
                "step: the window holds {sets} steps; at most {MAX_SETS} (a longer step, or accumulate=true)"
            ));
        }
        Ok(Query {
            start,
            end,
            step,
            aggregate,
            accumulate,
            share_idle,
        })
    }
}

/// The groups by `by` a caller may see: those whose every record belongs
/// to a tenant `visible` accepts (a label shared across tenants is seen
/// whole or not at all; idle is the cluster's).
#[must_use]
pub fn visible_groups(
    records: &[Record],
    by: &Aggregate,
    visible: impl Fn(Option<&str>) -> bool,
) -> std::collections::BTreeSet<String> {
    let mut allowed: BTreeMap<String, bool> = BTreeMap::new();
    for r in records {
        let ok = visible(r.tenant.as_deref());
        allowed
            .entry(r.key(by).into_owned())
            .and_modify(|a| *a &= ok)
            .or_insert(ok);
    }
    allowed
        .into_iter()
        .filter_map(|(group, ok)| ok.then_some(group))
        .collect()
}

fn rfc3339(t: i64) -> String {
    crate::Timestamp::from_second(t).map_or_else(|_| t.to_string(), |t| t.to_string())
}

/// A report as OpenCost's `/allocation` answers:
/// `{"code": 200, "data": [{name: allocation}, …]}`, a map per set.
#[must_use]
pub fn to_opencost_response(sets: &[Set]) -> serde_json::Value {
    let data: Vec<serde_json::Value> = sets
        .iter()
        .map(|set| {
            let window = serde_json::json!({"start": rfc3339(set.start), "end": rfc3339(set.end)});
            let allocations: serde_json::Map<String, serde_json::Value> = set
                .groups
                .iter()
                .map(|(name, a)| {
                    let mut value = super::to_opencost(name, a, set.end - set.start);
                    if let Some(object) = value.as_object_mut() {
                        object.insert("window".into(), window.clone());
                        object.insert("start".into(), window["start"].clone());
                        object.insert("end".into(), window["end"].clone());
                    }
                    (name.clone(), value)
                })
                .collect();
            serde_json::Value::Object(allocations)
        })
        .collect();
    serde_json::json!({"code": 200, "data": data})
}

/// The columns of [`to_csv`].
pub const CSV_HEADER: &str = "windowStart,windowEnd,name,cpuCoreHours,ramGiBHours,gpuHours,pvGiBHours,cpuCost,ramCost,gpuCost,pvCost,sharedCost,totalCost";

/// A report as CSV, a line per set and group; money exact to the
/// micro-unit.
#[must_use]
pub fn to_csv(sets: &[Set]) -> String {
    use std::fmt::Write as _;
    let hours = |unit_seconds: i64, per: f64| unit_seconds as f64 / 3600.0 / per;
    let gib = f64::from(1u32 << 30);
    let mut out = format!("{CSV_HEADER}\n");
    for set in sets {
        for (name, a) in &set.groups {
            let u = &a.used;
            // A name with a comma or quote is quoted, as RFC 4180 has it.
            let name = if name.contains([',', '"', '\n']) {
                format!("\"{}\"", name.replace('"', "\"\""))
            } else {
                name.clone()
            };
            let _ = writeln!(
                out,
                "{},{},{name},{:.6},{:.6},{:.6},{:.6},{},{},{},{},{},{}",
                rfc3339(set.start),
                rfc3339(set.end),
                hours(u.cpu_request.max(u.cpu_usage), 1000.0),
                hours(u.ram_request.max(u.ram_usage), gib),
                hours(u.gpu, 1.0),
                hours(u.pv, gib),
                super::money(a.cost.cpu),
                super::money(a.cost.ram),
                super::money(a.cost.gpu),
                super::money(a.cost.pv),
                super::money(a.idle),
                super::money(a.total()),
            );
        }
    }
    out
}
