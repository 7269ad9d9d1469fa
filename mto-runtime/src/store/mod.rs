//! mto's own data — the gateway's audit log, the console's sessions and
//! showback's hourly allocation records — behind one trait with two implementations: the
//! embedded default (the journal's redb file: nothing to run) and
//! PostgreSQL (for several replicas sharing one store). The same suite of
//! tests runs against both.

use std::collections::BTreeMap;
use std::sync::Arc;

use mto_model::Timestamp;
use mto_model::showback::{Cost, Record};
use serde::{Deserialize, Serialize};

use crate::operator::journal::{Journal, JournalError};

pub mod postgres;

pub use postgres::Postgres;

/// One write made through the API gateway.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When.
    pub at: Timestamp,
    /// Who (the user name the token gave).
    pub user: String,
    /// What: `create`, `update`, `delete`, `wake`, `sleep`.
    pub action: String,
    /// On what: `Kind/name` or `Kind/namespace/name`.
    pub object: String,
    /// `ok`, or the status and why not.
    pub outcome: String,
}

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The embedded file.
    #[error(transparent)]
    Embedded(#[from] JournalError),
    /// PostgreSQL.
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The blocking task did not finish.
    #[error("the store's task: {0}")]
    Task(String),
}

/// Showback records of some hours, and what the nodes' capacity cost per
/// hour.
pub type Allocation = (Vec<Record>, BTreeMap<i64, Cost>);

/// What mto keeps.
pub trait Store: Send + Sync {
    /// Appends an audit entry.
    fn record_audit(
        &self,
        entry: AuditEntry,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The latest `limit` audit entries, newest first.
    fn audit_log(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, StoreError>> + Send;

    /// Keeps `value` under `key` until `expires` (Unix seconds),
    /// replacing what was there; what expired is dropped.
    fn put_session(
        &self,
        key: String,
        value: Vec<u8>,
        expires: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The value under `key`, unless it expired; with `take`, removed as
    /// it is read (of readers racing for it, one gets it).
    fn session(
        &self,
        key: String,
        take: bool,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;

    /// Writes showback records, each replacing the one of its hour and
    /// container, and what the nodes' capacity cost per hour (replacing
    /// too).
    fn put_allocation(
        &self,
        records: Vec<Record>,
        capacity: Vec<(i64, Cost)>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The records and capacity of the hours in `[start, end)`; with a
    /// tenant, only its records (`""` for the namespaces of none) and no
    /// capacity (it is the cluster's).
    fn allocation(
        &self,
        start: i64,
        end: i64,
        tenant: Option<String>,
    ) -> impl Future<Output = Result<Allocation, StoreError>> + Send;

    /// Drops the records and capacity of the hours before `hour`.
    fn forget_allocation_before(
        &self,
        hour: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The embedded store: the journal's redb file.
#[derive(Clone, Debug)]
pub struct Embedded(pub Arc<Journal>);

impl Embedded {
    /// Runs `work` on the file off the async threads.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Journal) -> Result<T, JournalError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let journal = self.0.clone();
        tokio::task::spawn_blocking(move || work(&journal))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
            .map_err(StoreError::from)
    }
}

impl Store for Embedded {
    async fn record_audit(&self, entry: AuditEntry) -> Result<(), StoreError> {
        self.blocking(move |j| j.audit(&entry)).await
    }

    async fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.blocking(move |j| j.audit_log(limit)).await
    }

    async fn put_session(
        &self,
        key: String,
        value: Vec<u8>,
        expires: i64,
    ) -> Result<(), StoreError> {
        let now = Timestamp::now().as_second();
        self.blocking(move |j| j.put_session(&key, &value, expires, now))
            .await
    }

    async fn session(&self, key: String, take: bool) -> Result<Option<Vec<u8>>, StoreError> {
        let now = Timestamp::now().as_second();
        self.blocking(move |j| j.session(&key, take, now)).await
    }

    async fn put_allocation(
        &self,
        records: Vec<Record>,
        capacity: Vec<(i64, Cost)>,
    ) -> Result<(), StoreError> {
        self.blocking(move |j| j.put_allocation(&records, &capacity))
            .await
    }

    async fn allocation(
        &self,
        start: i64,
        end: i64,
        tenant: Option<String>,
    ) -> Result<Allocation, StoreError> {
        self.blocking(move |j| j.allocation(start, end, tenant.as_deref()))
            .await
    }

    async fn forget_allocation_before(&self, hour: i64) -> Result<(), StoreError> {
        self.blocking(move |j| j.forget_allocation_before(hour))
            .await
    }
}

/// The store `mto run` was given.
#[derive(Debug)]
pub enum AnyStore {
    /// The journal's file.
    Embedded(Embedded),
    /// A PostgreSQL database.
    Postgres(Box<Postgres>),
}

/// The same call on whichever store it is.
macro_rules! either {
    ($store:expr, $s:ident => $call:expr) => {
        match $store {
            AnyStore::Embedded($s) => $call.await,
            AnyStore::Postgres($s) => $call.await,
        }
    };
}

impl Store for AnyStore {
    async fn record_audit(&self, entry: AuditEntry) -> Result<(), StoreError> {
        either!(self, s => s.record_audit(entry))
    }

    async fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        either!(self, s => s.audit_log(limit))
    }

    async fn put_session(
        &self,
        key: String,
        value: Vec<u8>,
        expires: i64,
    ) -> Result<(), StoreError> {
        either!(self, s => s.put_session(key, value, expires))
    }

    async fn session(&self, key: String, take: bool) -> Result<Option<Vec<u8>>, StoreError> {
        either!(self, s => s.session(key, take))
    }

    async fn put_allocation(
        &self,
        records: Vec<Record>,
        capacity: Vec<(i64, Cost)>,
    ) -> Result<(), StoreError> {
        either!(self, s => s.put_allocation(records, capacity))
    }

    async fn allocation(
        &self,
        start: i64,
        end: i64,
        tenant: Option<String>,
    ) -> Result<Allocation, StoreError> {
        either!(self, s => s.allocation(start, end, tenant))
    }

    async fn forget_allocation_before(&self, hour: i64) -> Result<(), StoreError> {
        either!(self, s => s.forget_allocation_before(hour))
    }
}

/// The suite every store passes, for each implementation's tests.
pub mod suite {
    use std::collections::BTreeMap;

    use super::{AuditEntry, Store};
    use mto_model::Timestamp;
    use mto_model::showback::{Cost, Record, ResourceSeconds};

    fn entry(n: i64, user: &str) -> AuditEntry {
        AuditEntry {
            at: Timestamp::from_microsecond(1_700_000_000_000_000 + n).unwrap_or_default(),
            user: user.to_owned(),
            action: "wake".into(),
            object: format!("ResourceSupervisor/team/s{n}"),
            outcome: if n % 2 == 0 {
                "ok".into()
            } else {
                "403: your role does not allow it".into()
            },
        }
    }

    /// Sessions come back until they expire, replaced by key; a taken one
    /// comes back once; `key` is this run's (the store may be shared).
    ///
    /// # Panics
    /// When the store breaks the contract.
    pub async fn sessions_expire_and_are_taken_once(store: &impl Store, key: &str) {
        let now = Timestamp::now().as_second();
        let (live, gone, taken) = (
            format!("session:{key}"),
            format!("session:{key}-expired"),
            format!("login:{key}"),
        );
        store
            .put_session(live.clone(), b"one".to_vec(), now + 3600)
            .await
            .expect("kept");
        store
            .put_session(live.clone(), b"two".to_vec(), now + 3600)
            .await
            .expect("replaced");
        store
            .put_session(gone.clone(), b"old".to_vec(), now - 1)
            .await
            .expect("kept");
        store
            .put_session(taken.clone(), b"state".to_vec(), now + 600)
            .await
            .expect("kept");
        let read = |key: &String, take: bool| store.session(key.clone(), take);
        assert_eq!(
            read(&live, false).await.expect("read"),
            Some(b"two".to_vec())
        );
        assert_eq!(
            read(&live, false).await.expect("read"),
            Some(b"two".to_vec()),
            "read again"
        );
        assert_eq!(read(&gone, false).await.expect("read"), None, "expired");
        assert_eq!(
            read(&taken, true).await.expect("taken"),
            Some(b"state".to_vec())
        );
        assert_eq!(read(&taken, true).await.expect("taken"), None, "once only");
        assert_eq!(read(&taken, false).await.expect("read"), None);
        assert_eq!(
            read(&format!("session:{key}-never"), false)
                .await
                .expect("read"),
            None
        );
    }

    /// Entries come back newest first, exactly as written (to the
    /// microsecond), at most `limit`; `user` makes them this run's own on
    /// a store other runs share.
    ///
    /// # Panics
    /// When the store breaks the contract.
    pub async fn audit_entries_come_back_newest_first(store: &impl Store, user: &str) {
        let written: Vec<AuditEntry> = (0..5).map(|n| entry(n, user)).collect();
        for e in &written {
            store.record_audit(e.clone()).await.expect("recorded");
        }
        let latest = store.audit_log(1_000).await.expect("read");
        let ours: Vec<&AuditEntry> = latest.iter().filter(|e| e.user == user).collect();
        let expected: Vec<&AuditEntry> = written.iter().rev().collect();
        assert_eq!(ours, expected);
        let two = store.audit_log(2).await.expect("read");
        assert_eq!(two.len(), 2);
        assert_eq!(&two[0], expected[0], "the newest first");
    }

    /// A record of `namespace`'s pod in `hour`, costing `cents`.
    fn record(hour: i64, namespace: &str, cents: i64) -> Record {
        Record {
            hour,
            tenant: Some("alpha".into()),
            namespace: namespace.to_owned(),
            pod: "web-1".into(),
            container: "app".into(),
            labels: BTreeMap::from([("app".to_owned(), "web".to_owned())]),
            used: ResourceSeconds {
                cpu_request: 1000 * 3600,
                cpu_usage: 250 * 3600,
                ram_request: 1 << 40,
                ram_usage: 1 << 39,
                gpu: 0,
                pv: 7,
            },
            cost: Cost {
                cpu: cents * 10_000,
                ram: 1,
                gpu: 0,
                pv: 2,
            },
        }
    }

    /// Records come back by hour, a second write of a record replaces the
    /// first, capacity likewise, and forgetting drops only older hours;
    /// `namespace` makes them this run's own on a store other runs share.
    ///
    /// # Panics
    /// When the store breaks the contract.
    pub async fn allocation_records_are_replaced_by_hour_and_forgotten_before_it(
        store: &impl Store,
        namespace: &str,
    ) {
        // Far from now, so runs sharing a store do not meet.
        let base = 3600 * (1_000_000 + i64::from(std::process::id()));
        let hour = |n: i64| base + n * 3600;
        // This run's records of hours [from, to) (one tenant's with
        // `tenant`), and the capacity read with them.
        let read = |from: i64, to: i64, tenant: Option<&str>| {
            let tenant = tenant.map(str::to_owned);
            async move {
                let (records, capacity) = store
                    .allocation(hour(from), hour(to), tenant)
                    .await
                    .expect("read");
                let ours: Vec<Record> = records
                    .into_iter()
                    .filter(|r| r.namespace == namespace)
                    .collect();
                (ours, capacity)
            }
        };
        let capacity = Cost {
            cpu: 4 * 31_611,
            ram: 8 * 4_237,
            ..Cost::default()
        };
        store
            .put_allocation(
                vec![record(hour(0), namespace, 1), record(hour(1), namespace, 1)],
                vec![(hour(0), capacity), (hour(1), capacity)],
            )
            .await
            .expect("written");
        let corrected = record(hour(1), namespace, 5);
        store
            .put_allocation(vec![corrected.clone()], vec![(hour(1), Cost::default())])
            .await
            .expect("replaced");
        let both = vec![record(hour(0), namespace, 1), corrected.clone()];
        let (records, kept) = read(0, 2, None).await;
        assert_eq!(records, both);
        assert_eq!(kept.get(&hour(0)), Some(&capacity));
        assert_eq!(kept.get(&hour(1)), Some(&Cost::default()));
        // One tenant's: the same, found by its tenant, without capacity.
        let (alpha, none) = read(0, 2, Some("alpha")).await;
        assert_eq!(alpha, both);
        assert!(none.is_empty(), "the capacity is the cluster's");
        assert!(
            read(0, 2, Some("beta")).await.0.is_empty(),
            "another tenant's"
        );
        let (later, _) = read(1, 2, None).await;
        assert_eq!(later, vec![corrected.clone()], "only the hours asked for");
        store
            .forget_allocation_before(hour(1))
            .await
            .expect("forgotten");
        let (records, kept) = read(0, 2, None).await;
        assert_eq!(records, vec![corrected.clone()]);
        assert!(!kept.contains_key(&hour(0)));
        assert_eq!(
            read(0, 2, Some("alpha")).await.0,
            vec![corrected.clone()],
            "forgotten by tenant too"
        );
        // A namespace that moved to another tenant: its record moves too.
        let mut moved = corrected;
        moved.tenant = Some("beta".into());
        store
            .put_allocation(vec![moved.clone()], Vec::new())
            .await
            .expect("moved");
        assert!(
            read(0, 2, Some("alpha")).await.0.is_empty(),
            "no longer alpha's"
        );
        assert_eq!(read(0, 2, Some("beta")).await.0, vec![moved]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_embedded_store_passes_the_suite() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("journal.redb");
        let store = Embedded(Arc::new(Journal::open(&path).expect("open")));
        suite::audit_entries_come_back_newest_first(&store, "ann").await;
        suite::allocation_records_are_replaced_by_hour_and_forgotten_before_it(&store, "alpha-dev")
            .await;
        suite::sessions_expire_and_are_taken_once(&store, "ann").await;
    }
}
