//! The apiserver's own write rate: the yardstick `scripts/measure-operator`
//! sets beside the operator's convergence.
//!
//!     raw_writes MANIFESTS [CONCURRENCY]
//!
//! Plans the manifests as `mto plan` does and writes every object the plan
//! creates — each tenant's namespaces, role bindings, quotas, limit ranges
//! — through the operator's own executor (the same kube client, HTTP stack
//! and server-side apply), CONCURRENCY tenants at once (default 8, the
//! operator's default), each tenant's objects in order, as one reconcile
//! writes them. No planning while writing, no watches, no status, no
//! finalizers: what is left is what the apiserver and etcd cost. Prints
//! the objects written, the seconds and the rate.

use std::time::Instant;

use mto_model::action::Action;
use mto_runtime::cli::files::read_manifests;
use mto_runtime::cli::plan::plan;
use mto_runtime::execute::Executor;

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
    let writes: Vec<Vec<Action>> = planned
        .tenants
        .into_iter()
        .map(|t| {
            t.actions
                .into_iter()
                .filter(|a| matches!(a, Action::Apply { .. }))
                .collect()
        })
        .collect();
    let objects: usize = writes.iter().map(Vec::len).sum();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let seconds = runtime.block_on(async move {
        let client = kube::Client::try_default()
            .await
            .map_err(|e| format!("connecting to the cluster: {e}"))?;
        let executor = std::sync::Arc::new(Executor::new(client));
        let queue = std::sync::Arc::new(std::sync::Mutex::new(writes.into_iter()));
        let started = Instant::now();
        let mut writers: tokio::task::JoinSet<Result<(), String>> = tokio::task::JoinSet::new();
        for _ in 0..concurrency.max(1) {
            let (executor, queue) = (executor.clone(), queue.clone());
            writers.spawn(async move {
                loop {
                    let next = queue
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .next();
                    let Some(tenant) = next else { return Ok(()) };
                    for action in &tenant {
                        executor
                            .execute(action)
                            .await
                            .map_err(|e| format!("{}: {e}", action.target()))?;
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
        "raw writes: {objects} objects in {seconds:.2}s, {:.0} writes/s with {concurrency} writers",
        objects as f64 / seconds
    );
    Ok(())
}
