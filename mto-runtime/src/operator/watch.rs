//! One watch per watched kind of the registry, folded into the model's
//! view; and a one-shot list of everything, for offline use.

use std::sync::Arc;

use futures::StreamExt as _;
use kube::Api;
use kube::Client;
use kube::runtime::{WatchStreamExt as _, watcher};
use mto_model::view::{Gvk, KindVisitor, Typed, View, WatchEvent, visit_typed};

use super::Shared;

/// Starts a watch for every kind the registry marks as watched.
pub fn spawn_all(shared: &Arc<Shared>) -> tokio::task::JoinSet<()> {
    struct Spawn<'a> {
        shared: &'a Arc<Shared>,
        watches: tokio::task::JoinSet<()>,
    }
    impl KindVisitor for Spawn<'_> {
        type Output = ();
        fn typed<K: Typed>(&mut self) {
            if K::WATCHED {
                self.watches.spawn(watch::<K>(self.shared.clone()));
            }
        }
        fn dynamic(&mut self, _: &Gvk) {}
    }
    let mut spawn = Spawn {
        shared,
        watches: tokio::task::JoinSet::new(),
    };
    visit_typed(&mut spawn);
    spawn.watches
}

/// kube-runtime's watcher event, in the model's terms.
fn event<K: Typed>(event: watcher::Event<K>) -> WatchEvent {
    match event {
        watcher::Event::Apply(o) => WatchEvent::Apply(K::wrap(Arc::new(o))),
        watcher::Event::Delete(o) => WatchEvent::Delete(K::wrap(Arc::new(o))),
        watcher::Event::Init => WatchEvent::Init(K::KIND),
        watcher::Event::InitApply(o) => WatchEvent::InitApply(K::wrap(Arc::new(o))),
        watcher::Event::InitDone => WatchEvent::InitDone(K::KIND),
    }
}

/// Folds one kind's watch into the view until the task is stopped. The
/// watcher backs off and re-lists by itself after errors.
async fn watch<K: Typed>(shared: Arc<Shared>) {
    let stream = watcher(
        Api::<K>::all(shared.client.clone()),
        watcher::Config::default(),
    )
    .default_backoff();
    let mut stream = std::pin::pin!(stream);
    while let Some(next) = stream.next().await {
        match next {
            Ok(e) => shared.fold(event(e)),
            Err(e) => tracing::warn!(kind = %K::KIND, error = %e, "watch"),
        }
    }
}

/// Why the cluster could not be listed.
#[derive(Debug, thiserror::Error)]
#[error("listing {kind}: {source}")]
pub struct ListError {
    /// The kind.
    pub kind: String,
    /// The client error.
    pub source: kube::Error,
}

/// Lists every watched kind once into a view: what the operator would see
/// after starting, for tools and tests.
pub async fn observe(client: &Client) -> Result<View, ListError> {
    let mut view = View::default();
    for kind in mto_model::view::Kind::watched_kinds() {
        struct List;
        impl KindVisitor for List {
            type Output = Option<ListOne>;
            fn typed<K: Typed>(&mut self) -> Option<ListOne> {
                Some(list::<K>)
            }
            fn dynamic(&mut self, _: &Gvk) -> Option<ListOne> {
                None
            }
        }
        let Some(list_one) = kind.visit(&mut List) else {
            continue;
        };
        let objects = list_one(client.clone()).await?;
        view.fold(WatchEvent::Init(kind.clone()));
        for object in objects {
            view.fold(WatchEvent::InitApply(object));
        }
        view.fold(WatchEvent::InitDone(kind.clone()));
    }
    Ok(view)
}

type ListOne = fn(
    Client,
) -> std::pin::Pin<
    Box<dyn Future<Output = Result<Vec<mto_model::view::Object>, ListError>> + Send>,
>;

fn list<K: Typed>(
    client: Client,
) -> std::pin::Pin<Box<dyn Future<Output = Result<Vec<mto_model::view::Object>, ListError>> + Send>>
{
    Box::pin(async move {
        let listed = Api::<K>::all(client)
            .list(&Default::default())
            .await
            .map_err(|source| ListError {
                kind: K::KIND.to_string(),
                source,
            })?;
        Ok(listed
            .items
            .into_iter()
            .map(|o| K::wrap(Arc::new(o)))
            .collect())
    })
}
