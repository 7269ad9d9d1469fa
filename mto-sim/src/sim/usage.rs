//! Workloads' use over time, from a scenario's usage curves: a replica's
//! interval cut at each hour, holding that hour's use.

use mto_model::quantity::Quantity;
use mto_model::showback::Interval;

use crate::scenario::UsageCurve;

/// `interval` (of `replicas` replicas) cut at each clock hour, each piece
/// holding what the curve says they used in that hour (`start` is the
/// run's start, from which bursts are counted).
pub(super) fn hourly(
    interval: Interval,
    curve: &UsageCurve,
    replicas: i64,
    seed: u64,
    start: i64,
) -> Vec<Interval> {
    let mut out = Vec::new();
    let mut from = interval.from;
    while from < interval.to {
        let hour = from.div_euclid(3600) * 3600;
        let to = (hour + 3600).min(interval.to);
        let (cpu, ram) = used_in(curve, hour, seed, start);
        let mut holding = interval.holding;
        holding.cpu_usage = scaled(cpu, i128::from(replicas), 1);
        holding.ram_usage = scaled(ram, i128::from(replicas), 1);
        out.push(Interval { from, to, holding });
        from = to;
    }
    out
}

/// What one replica uses in the hour starting at `hour`.
fn used_in(curve: &UsageCurve, hour: i64, seed: u64, start: i64) -> (Quantity, Quantity) {
    let quantity = |text: &str| Quantity::parse(text).unwrap_or(Quantity::ZERO);
    let hour_of_day = u32::try_from(hour.rem_euclid(86_400) / 3600).unwrap_or(0);
    let [from, to] = curve.peak_hours;
    let peak = (from..to).contains(&hour_of_day);
    let pick = |values: &[String; 2]| quantity(&values[usize::from(peak)]);
    let (mut cpu, mut ram) = (pick(&curve.cpu), pick(&curve.memory));
    let seconds = |d: std::time::Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    if let Some(every) = curve.burst_every.map(seconds).filter(|e| *e > 0) {
        let length = curve.burst_length.map_or(3600, seconds);
        if (hour - start).rem_euclid(every) < length {
            let factor = i128::from(curve.burst_factor);
            cpu = scaled(quantity(&curve.cpu[1]), factor, 1);
            ram = scaled(quantity(&curve.memory[1]), factor, 1);
        }
    }
    // Jitter: a percentage from the seed, the workload and the hour.
    let jitter = i128::from(curve.jitter.min(100));
    let draw = mix(seed ^ name_hash(&curve.workload) ^ u64::try_from(hour).unwrap_or(0));
    let span = 2 * jitter + 1;
    let percent = 100 - jitter + i128::from(draw % u64::try_from(span).unwrap_or(1));
    (scaled(cpu, percent, 100), scaled(ram, percent, 100))
}

fn scaled(q: Quantity, times: i128, per: i128) -> Quantity {
    Quantity::from_nanos(q.nanos().saturating_mul(times) / per.max(1))
}

/// SplitMix64: a well-spread number from any number, the same everywhere.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mto_model::showback::{Holding, Prices, integrate};

    fn curve() -> UsageCurve {
        UsageCurve {
            workload: "alpha-dev/web".into(),
            cpu: ["100m".into(), "2".into()],
            memory: ["256Mi".into(), "1Gi".into()],
            peak_hours: [9, 18],
            jitter: 0,
            burst_every: None,
            burst_length: None,
            burst_factor: 3,
        }
    }

    fn day(replicas: i64, curve: &UsageCurve, seed: u64) -> Vec<Interval> {
        let holding = Holding {
            cpu_request: Quantity::parse("500m").unwrap_or(Quantity::ZERO),
            ..Holding::default()
        };
        let interval = Interval {
            from: 0,
            to: 86_400,
            holding: holding.times(replicas),
        };
        hourly(interval, curve, replicas, seed, 0)
    }

    #[test]
    fn a_day_is_cut_into_hours_using_the_peak_in_peak_hours() {
        let hours = day(2, &curve(), 1);
        assert_eq!(hours.len(), 24);
        let used = integrate(&hours, 0, 86_400);
        // 9 peak hours of 2 cores and 15 of 100m, for two replicas.
        assert_eq!(used.cpu_usage, 2 * (9 * 2_000 + 15 * 100) * 3600);
        assert_eq!(used.cpu_request, 2 * 500 * 86_400);
        let cost = mto_model::showback::cost(&used, &Prices::default());
        assert!(cost.cpu > 0);
    }

    #[test]
    fn bursts_and_jitter_follow_the_seed() {
        let mut bursty = curve();
        bursty.burst_every = Some(std::time::Duration::from_secs(86_400));
        bursty.burst_length = Some(std::time::Duration::from_secs(7200));
        let used = integrate(&day(1, &bursty, 1), 0, 86_400);
        // Midnight and 01:00 burst at three times the peak.
        assert_eq!(used.cpu_usage, (2 * 6_000 + 9 * 2_000 + 13 * 100) * 3600);
        let mut jittery = curve();
        jittery.jitter = 20;
        let total = |seed| integrate(&day(1, &jittery, seed), 0, 86_400).cpu_usage;
        assert_eq!(total(7), total(7), "the same seed, the same use");
        assert_ne!(total(7), total(8), "another seed, another use");
        let plain = integrate(&day(1, &curve(), 7), 0, 86_400).cpu_usage;
        let off = (total(7) - plain).abs();
        assert!(off <= plain / 5, "within the jitter: {off} of {plain}");
    }
}
