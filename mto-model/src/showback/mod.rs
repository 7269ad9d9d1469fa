//! Showback: what each tenant's workloads cost, with OpenCost's
//! allocation model, in integers.
//!
//! - Per container and hour: CPU cost = max(request, usage) core-hours ×
//!   the CPU price; RAM likewise in GiB-hours; GPUs = count × hours × the
//!   GPU price; persistent volumes = capacity GiB-hours × the storage
//!   price. A container's hour is integrated exactly from the intervals of
//!   its life (requests change only at events), so an hour split at any
//!   instant costs what the whole hour does.
//! - Money is integer micro-units of the currency ([`Micros`]); prices are
//!   integer pico-units per unit-hour, read from decimal text without
//!   floats. A row's cost is rounded once, from its exact resource-seconds;
//!   every aggregate is a sum of rows, so a tenant costs exactly the sum of
//!   its namespaces, and they the sum of their containers.
//! - Idle is the cluster's capacity cost less what is allocated; shared
//!   over tenants in proportion to their cost (`shareIdle`), the shares add
//!   up to the idle cost exactly (largest remainders), or reported as
//!   `__idle__`.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::quantity::Quantity;

pub mod meter;
mod prices;
pub mod report;

pub use meter::Meter;
pub use prices::{PriceError, Prices};
pub use report::{
    CSV_HEADER, Query, Record, Set, Usage, parse_duration, parse_window, records, report, to_csv,
    to_opencost_response, visible_groups,
};

/// Money in micro-units of the currency (1 USD = 1,000,000).
pub type Micros = i64;

/// Seconds in an hour.
const HOUR: i128 = 3600;
/// Nano-units in a unit ([`Quantity`] counts nano-units).
const NANO: i128 = 1_000_000_000;
/// Nano-units in a milli-unit.
const MILLI: i128 = 1_000_000;
/// Milli-units in a unit.
const MILLIS_PER_UNIT: i128 = 1_000;
/// Pico-units in a micro-unit (prices are pico, costs micro).
const PICO_PER_MICRO: i128 = 1_000_000;
/// Bytes in a GiB.
const GIB: i128 = 1 << 30;

/// What a container asks for and uses over some seconds: each resource's
/// amount integrated over time. CPU in milli-cores × seconds (Kubernetes
/// gives CPU to the milli-core), memory and volumes in bytes × seconds.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct ResourceSeconds {
    /// CPU requested: milli-cores × seconds.
    pub cpu_request: i64,
    /// CPU used: milli-cores × seconds.
    pub cpu_usage: i64,
    /// Memory requested: bytes × seconds.
    pub ram_request: i64,
    /// Memory used (working set): bytes × seconds.
    pub ram_usage: i64,
    /// GPUs: count × seconds.
    pub gpu: i64,
    /// Persistent volume capacity: bytes × seconds.
    pub pv: i64,
}

impl ResourceSeconds {
    /// Both added.
    #[must_use]
    pub fn plus(self, other: ResourceSeconds) -> ResourceSeconds {
        ResourceSeconds {
            cpu_request: self.cpu_request.saturating_add(other.cpu_request),
            cpu_usage: self.cpu_usage.saturating_add(other.cpu_usage),
            ram_request: self.ram_request.saturating_add(other.ram_request),
            ram_usage: self.ram_usage.saturating_add(other.ram_usage),
            gpu: self.gpu.saturating_add(other.gpu),
            pv: self.pv.saturating_add(other.pv),
        }
    }
}

/// What a container holds while nothing about it changes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Holding {
    /// CPU requested.
    pub cpu_request: Quantity,
    /// CPU used, on average.
    pub cpu_usage: Quantity,
    /// Memory requested, bytes.
    pub ram_request: Quantity,
    /// Memory used, bytes, on average.
    pub ram_usage: Quantity,
    /// GPUs.
    pub gpus: i64,
    /// Persistent volume capacity, bytes.
    pub pv: Quantity,
}

impl Holding {
    /// What `n` of these hold together (`n` replicas of a pod).
    #[must_use]
    pub fn times(&self, n: i64) -> Holding {
        let scale = |q: Quantity| Quantity::from_nanos(q.nanos().saturating_mul(i128::from(n)));
        Holding {
            cpu_request: scale(self.cpu_request),
            cpu_usage: scale(self.cpu_usage),
            ram_request: scale(self.ram_request),
            ram_usage: scale(self.ram_usage),
            gpus: self.gpus.saturating_mul(n),
            pv: scale(self.pv),
        }
    }
}

/// One stretch of a container's life: `holding` from `from` to `to`,
/// Unix seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    /// Start, Unix seconds.
    pub from: i64,
    /// End, Unix seconds (after `from`).
    pub to: i64,
    /// What it held.
    pub holding: Holding,
}

/// A quantity in `per` nano-units, rounded up (a fraction of a byte or
/// milli-core is a whole one), times `seconds`.
fn times(q: Quantity, per: i128, seconds: i64) -> i64 {
    let units = (q.nanos().max(0) + per - 1) / per;
    i64::try_from(units.saturating_mul(i128::from(seconds))).unwrap_or(i64::MAX)
}

/// The part of `intervals` inside `[start, end)`, integrated.
#[must_use]
pub fn integrate(intervals: &[Interval], start: i64, end: i64) -> ResourceSeconds {
    intervals
        .iter()
        .fold(ResourceSeconds::default(), |sum, interval| {
            let seconds = (interval.to.min(end) - interval.from.max(start)).max(0);
            let h = &interval.holding;
            sum.plus(ResourceSeconds {
                cpu_request: times(h.cpu_request, MILLI, seconds),
                cpu_usage: times(h.cpu_usage, MILLI, seconds),
                ram_request: times(h.ram_request, NANO, seconds),
                ram_usage: times(h.ram_usage, NANO, seconds),
                gpu: h.gpus.max(0).saturating_mul(seconds),
                pv: times(h.pv, NANO, seconds),
            })
        })
}

/// How many seconds of `[start, end)` the intervals cover.
#[must_use]
pub fn seconds_within(intervals: &[Interval], start: i64, end: i64) -> i64 {
    intervals
        .iter()
        .map(|i| (i.to.min(end) - i.from.max(start)).max(0))
        .sum()
}

/// The cost of some resource-seconds, each resource rounded once to the
/// nearest micro-unit.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Cost {
    /// CPU.
    pub cpu: Micros,
    /// Memory.
    pub ram: Micros,
    /// GPUs.
    pub gpu: Micros,
    /// Persistent volumes.
    pub pv: Micros,
}

impl Cost {
    /// All resources.
    #[must_use]
    pub fn total(&self) -> Micros {
        self.cpu + self.ram + self.gpu + self.pv
    }

    /// Both added.
    #[must_use]
    pub fn plus(self, other: Cost) -> Cost {
        Cost {
            cpu: self.cpu + other.cpu,
            ram: self.ram + other.ram,
            gpu: self.gpu + other.gpu,
            pv: self.pv + other.pv,
        }
    }
}

/// `amount × price / per` rounded to the nearest micro-unit (halves up);
/// all non-negative.
fn priced(amount: i64, price: i128, per: i128) -> Micros {
    let denominator = per * HOUR * PICO_PER_MICRO;
    let micros = (i128::from(amount.max(0)) * price + denominator / 2) / denominator;
    i64::try_from(micros).unwrap_or(i64::MAX)
}

/// What `used` costs at `prices`: OpenCost's rule, the larger of request
/// and usage for CPU and memory.
#[must_use]
pub fn cost(used: &ResourceSeconds, prices: &Prices) -> Cost {
    Cost {
        cpu: priced(
            used.cpu_request.max(used.cpu_usage),
            prices.cpu,
            MILLIS_PER_UNIT,
        ),
        ram: priced(used.ram_request.max(used.ram_usage), prices.ram, GIB),
        gpu: priced(used.gpu, prices.gpu, 1),
        pv: priced(used.pv, prices.storage, GIB),
    }
}

/// One container's hour: which container (its index among those the
/// rows were made from), what it held, what it cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    /// The hour's start, Unix seconds (a multiple of 3600).
    pub hour: i64,
    /// The container, by its index.
    pub container: u32,
    /// What it held over the hour.
    pub used: ResourceSeconds,
    /// What that cost.
    pub cost: Cost,
}

/// One container's life, for [`rows`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Container {
    /// The tenant, the namespace, the pod, the container.
    pub tenant: Option<String>,
    /// The namespace.
    pub namespace: String,
    /// The pod.
    pub pod: String,
    /// The container.
    pub container: String,
    /// The pod's labels.
    pub labels: BTreeMap<String, String>,
    /// What it held, when.
    pub intervals: Vec<Interval>,
}

/// What a holding adds per second, in the units [`ResourceSeconds`] counts.
fn per_second(h: &Holding) -> ResourceSeconds {
    integrate(
        &[Interval {
            from: 0,
            to: 1,
            holding: *h,
        }],
        0,
        1,
    )
}

/// `rate` held for `seconds`.
fn scaled(rate: ResourceSeconds, seconds: i64) -> ResourceSeconds {
    ResourceSeconds {
        cpu_request: rate.cpu_request.saturating_mul(seconds),
        cpu_usage: rate.cpu_usage.saturating_mul(seconds),
        ram_request: rate.ram_request.saturating_mul(seconds),
        ram_usage: rate.ram_usage.saturating_mul(seconds),
        gpu: rate.gpu.saturating_mul(seconds),
        pv: rate.pv.saturating_mul(seconds),
    }
}

/// The hourly rows of `containers` over `[start, end)`, at `prices`, each
/// handed to `each` as it is made: a row per clock hour a container lived
/// in (the first and last cut at `start` and `end`). Each interval is
/// swept once over the hours it touches: the same sums as [`integrate`]
/// over each hour.
pub fn for_each_row(
    containers: &[Container],
    start: i64,
    end: i64,
    prices: &Prices,
    mut each: impl FnMut(Row),
) {
    let first = start.div_euclid(3600) * 3600;
    let hours = usize::try_from((end - first + 3599).div_euclid(3600)).unwrap_or(0);
    let mut sums = vec![ResourceSeconds::default(); hours];
    for (index, c) in containers.iter().enumerate() {
        let container = u32::try_from(index).unwrap_or(u32::MAX);
        sums.iter_mut()
            .for_each(|s| *s = ResourceSeconds::default());
        for interval in &c.intervals {
            let rate = per_second(&interval.holding);
            let (from, to) = (interval.from.max(start), interval.to.min(end));
            let mut at = from;
            while at < to {
                let hour_end = (at.div_euclid(3600) + 1) * 3600;
                let until = hour_end.min(to);
                let slot = usize::try_from((at - first).div_euclid(3600)).unwrap_or(usize::MAX);
                if let Some(sum) = sums.get_mut(slot) {
                    *sum = sum.plus(scaled(rate, until - at));
                }
                at = until;
            }
        }
        for (slot, used) in sums.iter().enumerate() {
            if *used != ResourceSeconds::default() {
                each(Row {
                    hour: first + 3600 * i64::try_from(slot).unwrap_or(i64::MAX),
                    container,
                    cost: cost(used, prices),
                    used: *used,
                });
            }
        }
    }
}

/// The hourly rows of `containers` over `[start, end)`, collected.
#[must_use]
pub fn rows(containers: &[Container], start: i64, end: i64, prices: &Prices) -> Vec<Row> {
    let mut out = Vec::new();
    for_each_row(containers, start, end, prices, |row| out.push(row));
    out
}

/// How rows are grouped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Aggregate {
    /// By namespace.
    Namespace,
    /// By tenant (`__unallocated__` for namespaces of none).
    Tenant,
    /// By `namespace/pod`.
    Pod,
    /// By `namespace/pod/container`.
    Container,
    /// By the value of a pod label (`__unallocated__` without it).
    Label(String),
}

impl Aggregate {
    /// OpenCost's spelling: `namespace`, `tenant`, `pod`, `container`,
    /// `label:NAME`.
    pub fn parse(text: &str) -> Result<Aggregate, String> {
        match text {
            "namespace" => Ok(Aggregate::Namespace),
            "tenant" => Ok(Aggregate::Tenant),
            "pod" => Ok(Aggregate::Pod),
            "container" => Ok(Aggregate::Container),
            other => match other.strip_prefix("label:") {
                Some(label) if !label.is_empty() => Ok(Aggregate::Label(label.to_owned())),
                _ => Err(format!(
                    "aggregate {other:?}: use namespace, tenant, pod, container or label:NAME"
                )),
            },
        }
    }

    /// The group `c` belongs to.
    #[must_use]
    pub fn key(&self, c: &Container) -> String {
        self.key_of(
            c.tenant.as_deref(),
            &c.namespace,
            &c.pod,
            &c.container,
            &c.labels,
        )
        .into_owned()
    }

    /// The group of a container of `tenant`, `namespace`, `pod`, with the
    /// pod's `labels`.
    #[must_use]
    pub fn key_of<'a>(
        &self,
        tenant: Option<&'a str>,
        namespace: &'a str,
        pod: &str,
        container: &str,
        labels: &'a BTreeMap<String, String>,
    ) -> std::borrow::Cow<'a, str> {
        use std::borrow::Cow;
        match self {
            Aggregate::Namespace => Cow::Borrowed(namespace),
            Aggregate::Tenant => Cow::Borrowed(tenant.unwrap_or(UNALLOCATED)),
            Aggregate::Pod => Cow::Owned(format!("{namespace}/{pod}")),
            Aggregate::Container => Cow::Owned(format!("{namespace}/{pod}/{container}")),
            Aggregate::Label(label) => {
                Cow::Borrowed(labels.get(label).map_or(UNALLOCATED, String::as_str))
            }
        }
    }
}

/// The group of rows that belong to nobody by the aggregate.
pub const UNALLOCATED: &str = "__unallocated__";
/// The group idle cost is reported as when it is not shared.
pub const IDLE: &str = "__idle__";

/// What one group used and cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Allocation {
    /// Resource-seconds.
    pub used: ResourceSeconds,
    /// Cost of the resources.
    pub cost: Cost,
    /// The share of idle cost it carries.
    pub idle: Micros,
}

impl Allocation {
    /// Everything it costs, idle share included.
    #[must_use]
    pub fn total(&self) -> Micros {
        self.cost.total() + self.idle
    }
}

/// Rows (of `containers`) summed by `aggregate`.
#[must_use]
pub fn aggregate(
    containers: &[Container],
    rows: &[Row],
    by: &Aggregate,
) -> BTreeMap<String, Allocation> {
    let mut groups = Groups::new(containers, by);
    for row in rows {
        groups.add(row);
    }
    groups.finish()
}

/// Allocations being summed, a group per container looked up once.
#[derive(Debug)]
pub struct Groups {
    of_container: Vec<usize>,
    names: Vec<String>,
    sums: Vec<Allocation>,
}

impl Groups {
    /// Empty groups of `containers` by `by`.
    #[must_use]
    pub fn new(containers: &[Container], by: &Aggregate) -> Groups {
        let mut index: BTreeMap<String, usize> = BTreeMap::new();
        let mut names = Vec::new();
        let of_container = containers
            .iter()
            .map(|c| {
                let key = by.key(c);
                *index.entry(key.clone()).or_insert_with(|| {
                    names.push(key);
                    names.len() - 1
                })
            })
            .collect();
        let sums = vec![Allocation::default(); names.len()];
        Groups {
            of_container,
            names,
            sums,
        }
    }

    /// Adds a row.
    pub fn add(&mut self, row: &Row) {
        let Some(&group) = usize::try_from(row.container)
            .ok()
            .and_then(|c| self.of_container.get(c))
        else {
            return;
        };
        let a = &mut self.sums[group];
        a.used = a.used.plus(row.used);
        a.cost = a.cost.plus(row.cost);
    }

    /// The sums, by group name (groups without rows left out).
    #[must_use]
    pub fn finish(self) -> BTreeMap<String, Allocation> {
        self.names
            .into_iter()
            .zip(self.sums)
            .filter(|(_, a)| *a != Allocation::default())
            .collect()
    }
}

/// What the cluster's nodes could give over a window (CPU and memory, as
/// `capacity`'s cost) less what was allocated of it.
#[must_use]
pub fn idle_cost(capacity: &Cost, allocated: &Cost) -> Micros {
    (capacity.cpu - allocated.cpu).max(0) + (capacity.ram - allocated.ram).max(0)
}

/// `idle` shared over `groups` in proportion to their cost, in whole
/// micro-units that add up to `idle` exactly (the largest remainders get
/// the leftover units, ties to the first by name); with nothing to share
/// over, reported as [`IDLE`].
pub fn share_idle(groups: &mut BTreeMap<String, Allocation>, idle: Micros) {
    let total: Micros = groups.values().map(|a| a.cost.total()).sum();
    if idle <= 0 {
        return;
    }
    if total <= 0 {
        groups.entry(IDLE.into()).or_default().idle += idle;
        return;
    }
    let mut remainders: Vec<(i128, String)> = Vec::with_capacity(groups.len());
    let mut given = 0;
    for (name, a) in groups.iter_mut() {
        let exact = i128::from(idle) * i128::from(a.cost.total());
        a.idle = i64::try_from(exact / i128::from(total)).unwrap_or(i64::MAX);
        given += a.idle;
        remainders.push((exact % i128::from(total), name.clone()));
    }
    // Largest remainder first; ties in name order.
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    for (_, name) in remainders
        .into_iter()
        .take(usize::try_from(idle - given).unwrap_or(0))
    {
        if let Some(a) = groups.get_mut(&name) {
            a.idle += 1;
        }
    }
}

/// Micro-units as a decimal amount (`1.234567`).
#[must_use]
pub fn money(micros: Micros) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let m = micros.abs();
    format!("{sign}{}.{:06}", m / 1_000_000, m % 1_000_000)
}

/// An allocation as OpenCost's API shows it.
#[must_use]
pub fn to_opencost(name: &str, a: &Allocation, window_seconds: i64) -> Value {
    let hours = |unit_seconds: i64| unit_seconds as f64 / HOUR as f64;
    let core_hours = |milli_seconds: i64| hours(milli_seconds) / 1000.0;
    let float = |micros: Micros| micros as f64 / 1_000_000.0;
    let cpu_core_hours = core_hours(a.used.cpu_request.max(a.used.cpu_usage));
    let ram_byte_hours = hours(a.used.ram_request.max(a.used.ram_usage));
    let efficiency = |usage: i64, request: i64| {
        if request > 0 {
            usage as f64 / request as f64
        } else {
            0.0
        }
    };
    let window_hours = window_seconds as f64 / 3600.0;
    // Unit-hours over the window, as the amount held on average.
    let average = |unit_hours: f64| {
        if window_hours > 0.0 {
            unit_hours / window_hours
        } else {
            0.0
        }
    };
    // Each resource's efficiency weighed by its cost, as OpenCost does.
    let (cpu, ram) = (a.cost.cpu as f64, a.cost.ram as f64);
    let total_efficiency = if cpu + ram > 0.0 {
        (efficiency(a.used.cpu_usage, a.used.cpu_request) * cpu
            + efficiency(a.used.ram_usage, a.used.ram_request) * ram)
            / (cpu + ram)
    } else {
        0.0
    };
    serde_json::json!({
        "name": name,
        "minutes": window_seconds as f64 / 60.0,
        "cpuCoreHours": cpu_core_hours,
        "cpuCoreRequestAverage": average(core_hours(a.used.cpu_request)),
        "cpuCoreUsageAverage": average(core_hours(a.used.cpu_usage)),
        "cpuCost": float(a.cost.cpu),
        "cpuEfficiency": efficiency(a.used.cpu_usage, a.used.cpu_request),
        "gpuHours": hours(a.used.gpu),
        "gpuCost": float(a.cost.gpu),
        "ramByteHours": ram_byte_hours,
        "ramByteRequestAverage": average(hours(a.used.ram_request)),
        "ramByteUsageAverage": average(hours(a.used.ram_usage)),
        "ramCost": float(a.cost.ram),
        "ramEfficiency": efficiency(a.used.ram_usage, a.used.ram_request),
        "pvByteHours": hours(a.used.pv),
        "pvCost": float(a.cost.pv),
        "sharedCost": float(a.idle),
        "totalCost": float(a.total()),
        "totalEfficiency": total_efficiency,
    })
}

#[cfg(test)]
mod tests;
