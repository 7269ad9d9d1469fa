//! A month of showback: 10,000 pods (one container each, in 1,000 tenants'
//! namespaces), each asleep every night (hibernation: an interval per day),
//! priced hour by hour and summed per tenant.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mto_model::quantity::Quantity;
use mto_model::showback::{Aggregate, Container, Groups, Holding, Interval, Prices, for_each_row};

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

criterion_group!(benches, month);
criterion_main!(benches);
