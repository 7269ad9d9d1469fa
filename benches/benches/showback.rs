//! Showback's costs:
//! - a month of 10,000 pods (one container each, in 1,000 tenants'
//!   namespaces), each asleep every night (hibernation: an interval per
//!   day), priced hour by hour and summed per tenant;
//! - the collector's flush: 10,000 running pods as the watch delivers
//!   them, metered, and the look-back window's three hours made into
//!   records;
//! - a report: a month of hourly records of 1,000 pods (720,000) summed
//!   per tenant, daily, with idle shared — what `/allocation` does.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use k8s_openapi::api::core::v1::Pod;
use mto_model::quantity::Quantity;
use mto_model::showback::{
    Aggregate, Container, Cost, Groups, Holding, Interval, Meter, Prices, Query, ResourceSeconds,
    for_each_row, report,
};

const DAY: i64 = 86_400;
const MONTH: i64 = 30 * DAY;

fn containers() -> Vec<Container> {
    let q = |text: &str| Quantity::parse(text).unwrap_or(Quantity::ZERO);
    (0..10_000)
        .map(|i| {
            let tenant = format!("t{:04}", i % 1_000);
            let holding = Holding {
                cpu_request: q(&format!("{}m", 100 + (i % 7) * 150)),
                cpu_usage: q(&format!("{}m", 50 + (i % 11) * 120)),
                ram_request: q(&format!("{}Mi", 128 + (i % 5) * 256)),
                ram_usage: q(&format!("{}Mi", 100 + (i % 9) * 200)),
                gpus: 0,
                pv: q(if i % 10 == 0 { "10Gi" } else { "0" }),
            };
            Container {
                namespace: format!("{tenant}-ns{}", i % 5),
                tenant: Some(tenant),
                pod: format!("pod-{i}"),
                container: "app".into(),
                labels: Default::default(),
                // Awake from 06:00 to 22:00 every day.
                intervals: (0..30)
                    .map(|d| Interval {
                        from: d * DAY + 6 * 3600,
                        to: d * DAY + 22 * 3600,
                        holding,
                    })
                    .collect(),
            }
        })
        .collect()
}

fn month(c: &mut Criterion) {
    let containers = containers();
    let prices = Prices::default();
    let by_tenant = |containers: &[Container]| {
        let mut groups = Groups::new(containers, &Aggregate::Tenant);
        let mut rows = 0u64;
        for_each_row(containers, 0, MONTH, &prices, |row| {
            rows += 1;
            groups.add(&row);
        });
        (rows, groups.finish())
    };
    let (rows, tenants) = by_tenant(&containers);
    assert_eq!(rows, 10_000 * 30 * 16, "sixteen awake hours a day");
    assert_eq!(tenants.len(), 1_000);
    let mut group = c.benchmark_group("showback/10000-pods-30-days");
    group.sample_size(10);
    group.bench_function("hourly-rows-priced-and-summed-per-tenant", |b| {
        b.iter(|| black_box(by_tenant(&containers)))
    });
    group.finish();
}

/// A running pod, as a watch delivers it.
fn pod(i: usize, scheduled: i64) -> Pod {
    let at = mto_model::Timestamp::from_second(scheduled)
        .map(|t| t.to_string())
        .unwrap_or_default();
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": format!("pod-{i}"), "namespace": format!("t{:04}-ns{}", i % 1_000, i % 5),
                     "uid": format!("uid-{i}"), "labels": {"app": format!("app-{}", i % 50)}},
        "spec": {"nodeName": "node", "containers": [{"name": "app",
            "resources": {"requests": {"cpu": format!("{}m", 100 + (i % 7) * 150), "memory": format!("{}Mi", 128 + (i % 5) * 256)}}}]},
        "status": {"phase": "Running", "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": at}]},
    }))
    .unwrap_or_default()
}

fn flush(c: &mut Criterion) {
    let now = 100 * DAY + 1800;
    let pods: Vec<Pod> = (0..10_000).map(|i| pod(i, now - 2 * DAY)).collect();
    let prices = Prices::default();
    let start = (now - 3 * 3600).div_euclid(3600) * 3600;
    let collect = |pods: &[Pod]| {
        let mut meter = Meter::new();
        for (i, p) in pods.iter().enumerate() {
            let tenant = format!("t{:04}", i % 1_000);
            meter.observe_pod(p, Some(&tenant), now - 60);
        }
        let containers = meter.containers(now);
        let mut records = 0u64;
        for_each_row(&containers, start, now, &prices, |_| records += 1);
        records
    };
    assert_eq!(
        collect(&pods),
        10_000 * 4,
        "three hours and this one's half"
    );
    let mut group = c.benchmark_group("showback/10000-running-pods");
    group.sample_size(10);
    group.bench_function("watched-metered-and-the-window-made-into-records", |b| {
        b.iter(|| black_box(collect(&pods)))
    });
    group.finish();
}

fn allocation_report(c: &mut Criterion) {
    let containers: Vec<Container> = containers().into_iter().take(1_000).collect();
    let prices = Prices::default();
    let records = mto_model::showback::records(&containers, 0, MONTH, &prices);
    let capacity: std::collections::BTreeMap<i64, Cost> = (0..MONTH / 3600)
        .map(|h| {
            let offered = ResourceSeconds {
                cpu_request: 2_000_000 * 3600,
                ram_request: 4_000 * (1 << 30) * 3600,
                ..ResourceSeconds::default()
            };
            (h * 3600, mto_model::showback::cost(&offered, &prices))
        })
        .collect();
    let query = Query {
        start: 0,
        end: MONTH,
        step: Some(DAY),
        aggregate: Aggregate::Tenant,
        accumulate: false,
        share_idle: true,
    };
    assert_eq!(report(&records, &capacity, &query).len(), 30);
    let mut group = c.benchmark_group("showback/1000-pods-a-month-of-records");
    group.sample_size(10);
    group.bench_function("daily-per-tenant-with-idle-shared", |b| {
        b.iter(|| black_box(report(&records, &capacity, &query)))
    });
    group.finish();
}

criterion_group!(benches, month, flush, allocation_report);
criterion_main!(benches);
