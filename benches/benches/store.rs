//! Showback's store: a month of hourly records of 1,000 pods (one
//! container each, 100 tenants of 10 pods, running all the time: 720,000
//! records) written in hourly flushes, then one tenant's month read back
//! — what a tenant's cost page or `mto showback --tenant` asks — from the
//! journal's redb file and, when `MTO_BENCH_POSTGRES` names a server
//! (`deploy/testenv/run` starts one: `MTO_BENCH_POSTGRES=$MTO_TESTENV_POSTGRES`),
//! from PostgreSQL. Prints the redb file's size.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use mto_model::showback::{Cost, Record, ResourceSeconds};
use mto_runtime::operator::journal::Journal;
use mto_runtime::store::{Embedded, Postgres, Store};

const HOURS: i64 = 30 * 24;
/// Far from any real hour, so a shared PostgreSQL keeps these apart.
const BASE: i64 = 3600 * 100_000;

fn hour_of_records(hour: i64) -> Vec<Record> {
    (0..1_000)
        .map(|i| {
            let tenant = format!("bench-t{:03}", i / 10);
            Record {
                hour: BASE + hour * 3600,
                namespace: format!("{tenant}-dev"),
                tenant: Some(tenant),
                pod: format!("pod-{i}"),
                container: "app".into(),
                labels: BTreeMap::from([("app".to_owned(), format!("app-{}", i % 50))]),
                used: ResourceSeconds {
                    cpu_request: 250 * 3600,
                    cpu_usage: 180 * 3600,
                    ram_request: (256 << 20) * 3600,
                    ram_usage: (200 << 20) * 3600,
                    gpu: 0,
                    pv: 0,
                },
                cost: Cost {
                    cpu: 7_903,
                    ram: 1_059,
                    gpu: 0,
                    pv: 0,
                },
            }
        })
        .collect()
}

fn fill(runtime: &tokio::runtime::Runtime, store: &impl Store) {
    runtime.block_on(async {
        for hour in 0..HOURS {
            store
                .put_allocation(
                    hour_of_records(hour),
                    vec![(BASE + hour * 3600, Cost::default())],
                )
                .await
                .expect("written");
        }
    });
}

fn one_tenants_month(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = std::env::temp_dir().join(format!("mto-bench-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("journal.redb");
    let embedded = Embedded(Arc::new(Journal::open(&path).expect("journal")));
    fill(&runtime, &embedded);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "redb file with {} records: {:.1} MiB",
        1_000 * HOURS,
        size as f64 / f64::from(1 << 20)
    );
    let read = |store: &Embedded| {
        runtime.block_on(async {
            store
                .allocation(BASE, BASE + HOURS * 3600, Some("bench-t042".into()))
                .await
                .expect("read")
                .0
                .len()
        })
    };
    assert_eq!(read(&embedded), 10 * HOURS as usize);
    let mut group = c.benchmark_group("store/1000-pods-a-month/one-tenants-month");
    group.sample_size(20);
    group.bench_function("redb", |b| b.iter(|| black_box(read(&embedded))));
    if let Ok(url) = std::env::var("MTO_BENCH_POSTGRES") {
        let postgres = runtime
            .block_on(Postgres::connect(&url))
            .expect("PostgreSQL");
        fill(&runtime, &postgres);
        let read = || {
            runtime.block_on(async {
                postgres
                    .allocation(BASE, BASE + HOURS * 3600, Some("bench-t042".into()))
                    .await
                    .expect("read")
                    .0
                    .len()
            })
        };
        assert_eq!(read(), 10 * HOURS as usize);
        group.bench_function("postgres", |b| b.iter(|| black_box(read())));
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, one_tenants_month);
criterion_main!(benches);
