//! The gateway's own data — today its audit log — behind one trait with
//! two implementations: the embedded default (the journal's redb file:
//! nothing to run) and PostgreSQL (for several gateway replicas sharing
//! one log). The same suite of tests runs against both.

use std::sync::Arc;

use mto_model::Timestamp;
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

/// What the gateway keeps.
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
}

/// The embedded store: the journal's redb file.
#[derive(Clone, Debug)]
pub struct Embedded(pub Arc<Journal>);

impl Store for Embedded {
    async fn record_audit(&self, entry: AuditEntry) -> Result<(), StoreError> {
        let journal = self.0.clone();
        tokio::task::spawn_blocking(move || journal.audit(&entry))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
            .map_err(StoreError::from)
    }

    async fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let journal = self.0.clone();
        tokio::task::spawn_blocking(move || journal.audit_log(limit))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
            .map_err(StoreError::from)
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

impl Store for AnyStore {
    async fn record_audit(&self, entry: AuditEntry) -> Result<(), StoreError> {
        match self {
            AnyStore::Embedded(s) => s.record_audit(entry).await,
            AnyStore::Postgres(s) => s.record_audit(entry).await,
        }
    }

    async fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        match self {
            AnyStore::Embedded(s) => s.audit_log(limit).await,
            AnyStore::Postgres(s) => s.audit_log(limit).await,
        }
    }
}

/// The suite every store passes, for each implementation's tests.
pub mod suite {
    use super::{AuditEntry, Store};
    use mto_model::Timestamp;

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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_embedded_store_passes_the_suite() {
        let dir = std::env::temp_dir().join(format!("mto-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("journal.redb");
        let _ = std::fs::remove_file(&path);
        let store = Embedded(Arc::new(Journal::open(&path).expect("open")));
        suite::audit_entries_come_back_newest_first(&store, "ann").await;
    }
}
