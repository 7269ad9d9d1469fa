//! One watch per watched kind of the registry, folded into the model's
//! view; and a one-shot list of everything, for offline use.

use std::sync::Arc;

use futures::StreamExt as _;
use kube::Api;
use kube::Client;
use kube::runtime::{WatchStreamExt as _, watcher};
use mto_model::view::{Gvk, KindVisitor, Typed, View, WatchEvent, visit_typed};

use super::Shared;

/// Starts a watch for every kind the registry marks as watched, and with
/// `deployed_kinds` for the kinds Templates and the console deploy.
pub fn spawn_all(shared: &Arc<Shared>, deployed_kinds: bool) -> tokio::task::JoinSet<()> {
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
    if deployed_kinds {
        spawn.watches.spawn(watch_dynamic_kinds(shared.clone()));
    }
    spawn.watches
}

/// How often the kinds Templates and the console deploy are looked at again.
const DYNAMIC_KINDS_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Watches, besides the registry's kinds, every kind the Templates in the
/// view deploy, from when a Template first names it, and the console's
/// kinds while it is asked for or may exist (a watch is never
/// stopped: a kind once deployed may still have objects to remove). A
/// kind the cluster does not serve is looked up again until it is.
async fn watch_dynamic_kinds(shared: Arc<Shared>) {
    let mut watching = std::collections::BTreeSet::new();
    let mut watches = tokio::task::JoinSet::new();
    loop {
        let kinds = shared.view().snapshot().dynamic_kinds();
        for gvk in kinds {
            if watching.insert(gvk.clone()) {
                watches.spawn(watch_dynamic(shared.clone(), gvk));
            }
        }
        tokio::time::sleep(DYNAMIC_KINDS_EVERY).await;
    }
}

/// How long a kind the cluster does not serve waits before the next look.
const UNSERVED_RETRY: std::time::Duration = std::time::Duration::from_secs(15);

/// Folds the watch of one kind outside the registry into the view.
async fn watch_dynamic(shared: Arc<Shared>, gvk: Gvk) {
    let wanted = kube::core::GroupVersionKind::gvk(&gvk.group, &gvk.version, &gvk.kind);
    let resource = loop {
        match kube::discovery::pinned_kind(&shared.client, &wanted).await {
            Ok((resource, _)) => break resource,
            Err(e) => {
                tracing::warn!(
                    kind = %gvk.kind,
                    api_version = %gvk.api_version(),
                    error = %e,
                    "a kind Templates or the console deploy is not served by the cluster (yet); they wait"
                );
                tokio::time::sleep(UNSERVED_RETRY).await;
            }
        }
    };
    let api: Api<kube::api::DynamicObject> = Api::all_with(shared.client.clone(), &resource);
    let kind = mto_model::view::Kind::Dynamic(gvk.clone());
    let types = kube::core::TypeMeta {
        api_version: gvk.api_version(),
        kind: gvk.kind.clone(),
    };
    // A list's items may come without their apiVersion and kind.
    let typed = |mut o: kube::api::DynamicObject| {
        o.types.get_or_insert_with(|| types.clone());
        mto_model::view::Object::Dynamic(Arc::new(o))
    };
    let stream = watcher(api, watcher::Config::default()).default_backoff();
    let mut stream = std::pin::pin!(stream);
    while let Some(next) = stream.next().await {
        match next {
            Ok(e) => shared.fold(event(e, &kind, typed)),
            Err(e) => tracing::warn!(kind = %gvk.kind, error = %e, "watch"),
        }
    }
}

/// kube-runtime's watcher event of `kind`, in the model's terms; `wrap`
/// makes an object of the model's from a watched one.
fn event<T>(
    event: watcher::Event<T>,
    kind: &mto_model::view::Kind,
    wrap: impl Fn(T) -> mto_model::view::Object,
) -> WatchEvent {
    match event {
        watcher::Event::Apply(o) => WatchEvent::Apply(wrap(o).into()),
        watcher::Event::Delete(o) => WatchEvent::Delete(wrap(o)),
        watcher::Event::Init => WatchEvent::Init(kind.clone()),
        watcher::Event::InitApply(o) => WatchEvent::InitApply(wrap(o).into()),
        watcher::Event::InitDone => WatchEvent::InitDone(kind.clone()),
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
            Ok(e) => shared.fold(event(e, &K::KIND, |o| K::wrap(Arc::new(o)))),
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
            view.fold(WatchEvent::InitApply(object.into()));
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
