//! The apiserver's own write rate: the yardstick `scripts/measure-operator`
//! sets beside the operator's convergence.
//!
//!     raw_writes MANIFESTS [CONCURRENCY]
//!
//! Plans the manifests as `mto plan` does and makes every write of each
//! tenant's first decision — its finalizer, its namespaces, role bindings,
//! quotas and limit ranges, its status, and the event the operator records
//! — through the operator's own executor and event recorder (the same kube
//! client, HTTP stack and server-side apply), CONCURRENCY tenants at once
//! (default 8, the operator's default), each tenant's writes in order, as
//! one reconcile makes them. The Tenants must exist (with nobody acting on
//! them): their finalizers and statuses are written. No planning while
//! writing, no watches: what is left is what the apiserver and etcd cost.
//! Prints the object writes (status and events apart), the seconds and
//! the rate of object writes.

use std::time::Instant;

use kube::runtime::events::{Recorder, Reporter};
use mto_model::action::{Action, Event};
use mto_runtime::cli::files::read_manifests;
use mto_runtime::cli::plan::plan;
use mto_runtime::execute::Executor;
use mto_runtime::operator::{event_reference, recorded_event};

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        return Err("usage: raw_writes MANIFESTS [CONCURRENCY]".into());
    };
    let concurrency: usize = match args.get(1) {
        Some(n) => n
            .parse()
            .map_err(|e| format!("CONCURRENCY {n:?}: {e}; give a whole number such as 8"))?,
        None => 8,
    };
    let mut manifests = Vec::new();
    for manifest in read_manifests(std::path::Path::new(path))? {
        manifests.push(manifest.map_err(|e| e.to_string())?.manifest);
    }
    let no_charts = |_: &mto_model::template::ChartRequest| mto_model::template::ChartRendering {
        objects: Err("the raw writer renders no charts".into()),
        at: mto_model::Timestamp::now(),
    };
    let planned =
        plan(&manifests, mto_model::Timestamp::now(), &no_charts).map_err(|e| e.to_string())?;
    let writes: Vec<(Vec<Action>, Vec<Event>)> = planned
        .tenants
        .into_iter()
        .map(|t| {
            let calls = t.actions.into_iter().filter(Action::is_api_call).collect();
            (calls, t.events)
        })
        .collect();
    let objects = writes
        .iter()
        .flat_map(|(calls, _)| calls)
        .filter(|a| a.is_object_write())
        .count();
    let statuses = writes
        .iter()
        .flat_map(|(calls, _)| calls)
        .filter(|a| matches!(a, Action::ApplyStatus { .. }))
        .count();
    let events: usize = writes.iter().map(|(_, events)| events.len()).sum();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let seconds = runtime.block_on(async move {
        let client = kube::Client::try_default()
            .await
            .map_err(|e| format!("connecting to the cluster: {e}"))?;
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: "mto".into(),
                instance: Some("raw-writes".into()),
            },
        );
        let executor = std::sync::Arc::new(Executor::new(client));
        let queue = std::sync::Arc::new(std::sync::Mutex::new(writes.into_iter()));
        let started = Instant::now();
        let mut writers: tokio::task::JoinSet<Result<(), String>> = tokio::task::JoinSet::new();
        for _ in 0..concurrency.max(1) {
            let (executor, recorder, queue) = (executor.clone(), recorder.clone(), queue.clone());
            writers.spawn(async move {
                loop {
                    let next = queue
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .next();
                    let Some((calls, events)) = next else {
                        return Ok(());
                    };
                    for action in &calls {
                        executor
                            .execute(action)
                            .await
                            .map_err(|e| format!("{}: {e}", action.target()))?;
                    }
                    for event in &events {
                        recorder
                            .publish(
                                &recorded_event(event),
                                &event_reference(&event.regarding, None),
                            )
                            .await
                            .map_err(|e| format!("event about {}: {e}", event.regarding))?;
                    }
                }
            });
        }
        while let Some(done) = writers.join_next().await {
            done.map_err(|e| e.to_string())??;
        }
        Ok::<_, String>(started.elapsed().as_secs_f64())
    })?;
    println!(
        "raw writes: {objects} objects in {seconds:.2}s, {:.0} writes/s with {concurrency} writers (and {statuses} status writes, {events} events)",
        objects as f64 / seconds
    );
    Ok(())
}
