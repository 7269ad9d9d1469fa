//! Schedule evaluation: what a supervisor pays to know whether it should
//! be asleep and when it next changes, in a time zone with DST.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mto_model::Timestamp;
use mto_model::api::SleepSchedule;
use mto_model::hibernation::schedule::Hibernation;

fn schedule(c: &mut Criterion) {
    let mut group = c.benchmark_group("schedule");
    let nights_and_weekends = Hibernation::compile(&SleepSchedule {
        sleep_schedule: "0 20 * * 1-5".into(),
        wake_schedule: Some("0 7 * * 1-5".into()),
        time_zone: Some("Europe/Berlin".into()),
    })
    .expect("valid");
    let since: Timestamp = "2026-01-01T00:00:00Z".parse().expect("time");
    // Saturday noon: the last sleep was Friday, the next wake is Monday.
    let weekend: Timestamp = "2026-03-28T12:00:00Z".parse().expect("time");
    group.bench_function("state-at", |b| {
        b.iter(|| black_box(nights_and_weekends.state_at(black_box(weekend), since)))
    });
    group.bench_function("next-transition", |b| {
        b.iter(|| black_box(nights_and_weekends.next_transition(black_box(weekend), since)))
    });
    group.bench_function("compile", |b| {
        b.iter(|| {
            black_box(Hibernation::compile(&SleepSchedule {
                sleep_schedule: "0 20 * * 1-5".into(),
                wake_schedule: Some("0 7 * * 1-5".into()),
                time_zone: Some("Europe/Berlin".into()),
            }))
        })
    });
    group.finish();
}

criterion_group!(benches, schedule);
criterion_main!(benches);
