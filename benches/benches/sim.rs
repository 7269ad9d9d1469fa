//! The simulator at scale.

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use mto_sim::scenario::Scenario;
use mto_sim::sim::Sim;

// What `mto-sim` runs on (its `main.rs` says why), so these numbers are
// the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn scenario(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../mto-sim/scenarios")
        .join(name);
    Scenario::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn sim(c: &mut Criterion) {
    let mut group = c.benchmark_group("sim");
    group.sample_size(10);
    let ten_k = scenario("ten-thousand-tenants.yaml");
    group.bench_function("converge-10k-tenants-from-empty", |b| {
        b.iter(|| {
            let report = Sim::new(ten_k.clone(), ten_k.seed)
                .run(|_, _| {})
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(report.tenants_by_phase.get("Active"), Some(&10_000));
        })
    });
    let week = scenario("thousand-tenants.yaml");
    group.bench_function("7-days-1k-tenants-with-faults", |b| {
        b.iter(|| {
            Sim::new(week.clone(), week.seed)
                .run(|_, _| {})
                .unwrap_or_else(|e| panic!("{e}"))
        })
    });
    let hibernation = scenario("thousand-tenants-week.yaml");
    group.bench_function("7-days-1k-tenants-hibernating", |b| {
        b.iter(|| {
            let report = Sim::new(hibernation.clone(), hibernation.seed)
                .run(|_, _| {})
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(report.hibernation_transitions, 10_000);
        })
    });
    group.finish();
}

criterion_group!(benches, sim);
criterion_main!(benches);
