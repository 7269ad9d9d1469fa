//! The decision journal: what the operator changed for each tenant, why and
//! when, kept in an embedded redb file; beside it, the audit log of the
//! writes people made through the API gateway and showback's hourly
//! allocation records.
//!
//! It is history, never the source of truth: the operator never reads it to
//! decide, so deleting the file loses the past and nothing else.

use std::path::Path;

use mto_model::Timestamp;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use mto_model::showback::{Cost, Record};

use crate::store::AuditEntry;

/// The pages of the file kept in memory. The journal is appended to and
/// seldom read, so redb's default (1 GiB) would only let the operator's
/// memory grow with its history (up to 1,000 entries per tenant).
const CACHE_BYTES: usize = 32 << 20;

/// Entries kept per tenant; older ones are dropped as new ones arrive.
pub const KEPT_PER_TENANT: u64 = 1000;

/// (tenant, sequence number) → a JSON [`Entry`].
const DECISIONS: TableDefinition<'_, (&str, u64), &[u8]> = TableDefinition::new("decisions");

/// Audit entries kept; older ones are dropped as new ones arrive.
pub const AUDIT_KEPT: u64 = 100_000;

/// sequence number → a JSON [`AuditEntry`].
const AUDIT: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("audit");

/// (hour, `namespace/pod/container`) → a JSON showback [`Record`].
const ALLOCATION: TableDefinition<'_, (i64, &str), &[u8]> = TableDefinition::new("allocation");

/// (tenant, hour, `namespace/pod/container`) → the same JSON record: a
/// tenant's report reads one range, not every tenant's (`""` for none).
const ALLOCATION_BY_TENANT: TableDefinition<'_, (&str, i64, &str), &[u8]> =
    TableDefinition::new("allocation_by_tenant");

/// hour → what the nodes' capacity cost over it, a JSON [`Cost`].
const CAPACITY: TableDefinition<'_, i64, &[u8]> = TableDefinition::new("capacity");

/// key → (expiry in Unix seconds, value): the console's sessions and
/// sign-ins in progress.
const SESSIONS: TableDefinition<'_, &str, (i64, &[u8])> = TableDefinition::new("sessions");

/// One reconcile that changed something.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// When the operator decided.
    pub at: Timestamp,
    /// The phase the tenant was in.
    pub from: String,
    /// The phase the decision moved it to.
    pub to: String,
    /// The writes carried out, as text.
    pub actions: Vec<String>,
    /// What users were told (events), as text.
    pub events: Vec<String>,
    /// The error that stopped the reconcile part way, if any.
    pub error: Option<String>,
}

/// Why the journal could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The database failed.
    #[error("journal {path}: {source}")]
    Database {
        /// The file.
        path: String,
        /// The cause.
        source: Box<redb::Error>,
    },
    /// An entry did not decode (written by another version).
    #[error("journal entry: {0}")]
    Decode(#[from] serde_json::Error),
}

/// The journal file.
#[derive(Debug)]
pub struct Journal {
    db: Database,
    path: String,
}

impl Journal {
    /// Opens the journal, creating it if needed.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        let name = path.display().to_string();
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| db_error(&name, e))?;
        Ok(Journal { db, path: name })
    }

    fn fail(&self, e: impl Into<redb::Error>) -> JournalError {
        db_error(&self.path, e)
    }

    /// Appends an entry for `tenant`, dropping its oldest beyond
    /// [`KEPT_PER_TENANT`].
    pub fn record(&self, tenant: &str, entry: &Entry) -> Result<(), JournalError> {
        let value = serde_json::to_vec(entry)?;
        let txn = self.db.begin_write().map_err(|e| self.fail(e))?;
        {
            let mut table = txn.open_table(DECISIONS).map_err(|e| self.fail(e))?;
            let next = table
                .range((tenant, 0)..=(tenant, u64::MAX))
                .map_err(|e| self.fail(e))?
                .next_back()
                .transpose()
                .map_err(|e| self.fail(e))?
                .map_or(0, |(k, _)| k.value().1 + 1);
            table
                .insert((tenant, next), value.as_slice())
                .map_err(|e| self.fail(e))?;
            if next >= KEPT_PER_TENANT {
                let oldest = next - KEPT_PER_TENANT;
                table
                    .retain_in((tenant, 0)..=(tenant, oldest), |_, _| false)
                    .map_err(|e| self.fail(e))?;
            }
        }
        txn.commit().map_err(|e| self.fail(e))
    }

    /// Appends an audit entry, dropping the oldest beyond [`AUDIT_KEPT`].
    pub fn audit(&self, entry: &AuditEntry) -> Result<(), JournalError> {
        let value = serde_json::to_vec(entry)?;
        let txn = self.db.begin_write().map_err(|e| self.fail(e))?;
        {
            let mut table = txn.open_table(AUDIT).map_err(|e| self.fail(e))?;
            let next = table
                .last()
                .map_err(|e| self.fail(e))?
                .map_or(0, |(k, _)| k.value() + 1);
            table
                .insert(next, value.as_slice())
                .map_err(|e| self.fail(e))?;
            if next >= AUDIT_KEPT {
                let oldest = next - AUDIT_KEPT;
                table
                    .retain_in(0..=oldest, |_, _| false)
                    .map_err(|e| self.fail(e))?;
            }
        }
        txn.commit().map_err(|e| self.fail(e))
    }

    /// The latest `limit` audit entries, newest first.
    pub fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>, JournalError> {
        let txn = self.db.begin_read().map_err(|e| self.fail(e))?;
        let table = match txn.open_table(AUDIT) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(self.fail(e)),
        };
        let mut out = Vec::new();
        for row in table.iter().map_err(|e| self.fail(e))?.rev().take(limit) {
            let (_, value) = row.map_err(|e| self.fail(e))?;
            out.push(serde_json::from_slice(value.value())?);
        }
        Ok(out)
    }

    /// Writes showback records, each replacing the one of its hour and
    /// container, and what the nodes' capacity cost per hour.
    pub fn put_allocation(
        &self,
        records: &[Record],
        capacity: &[(i64, Cost)],
    ) -> Result<(), JournalError> {
        let txn = self.db.begin_write().map_err(|e| self.fail(e))?;
        {
            let mut table = txn.open_table(ALLOCATION).map_err(|e| self.fail(e))?;
            let mut by_tenant = txn
                .open_table(ALLOCATION_BY_TENANT)
                .map_err(|e| self.fail(e))?;
            for r in records {
                let key = format!("{}/{}/{}", r.namespace, r.pod, r.container);
                let value = serde_json::to_vec(r)?;
                let tenant = r.tenant.as_deref().unwrap_or("");
                let before = table
                    .insert((r.hour, key.as_str()), value.as_slice())
                    .map_err(|e| self.fail(e))?
                    .map(|old| serde_json::from_slice::<Record>(old.value()))
                    .transpose()?;
                // A record that changed tenant leaves its old tenant.
                if let Some(old) = before
                    && old.tenant.as_deref().unwrap_or("") != tenant
                {
                    by_tenant
                        .remove((old.tenant.as_deref().unwrap_or(""), r.hour, key.as_str()))
                        .map_err(|e| self.fail(e))?;
                }
                by_tenant
                    .insert((tenant, r.hour, key.as_str()), value.as_slice())
                    .map_err(|e| self.fail(e))?;
            }
            let mut table = txn.open_table(CAPACITY).map_err(|e| self.fail(e))?;
            for (hour, c) in capacity {
                let value = serde_json::to_vec(c)?;
                table
                    .insert(*hour, value.as_slice())
                    .map_err(|e| self.fail(e))?;
            }
        }
        txn.commit().map_err(|e| self.fail(e))
    }

    /// The showback records of the hours in `[start, end)` (only
    /// `tenant`'s when given), and what the nodes' capacity cost per hour
    /// (none with a tenant: it is the cluster's).
    pub fn allocation(
        &self,
        start: i64,
        end: i64,
        tenant: Option<&str>,
    ) -> Result<(Vec<Record>, std::collections::BTreeMap<i64, Cost>), JournalError> {
        let txn = self.db.begin_read().map_err(|e| self.fail(e))?;
        let mut records = Vec::new();
        let table = match txn.open_table(ALLOCATION) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => {
                return Ok((records, std::collections::BTreeMap::new()));
            }
            Err(e) => return Err(self.fail(e)),
        };
        if let Some(tenant) = tenant {
            let index = txn
                .open_table(ALLOCATION_BY_TENANT)
                .map_err(|e| self.fail(e))?;
            for entry in index
                .range((tenant, start, "")..(tenant, end, ""))
                .map_err(|e| self.fail(e))?
            {
                let (_, value) = entry.map_err(|e| self.fail(e))?;
                records.push(serde_json::from_slice(value.value())?);
            }
            return Ok((records, std::collections::BTreeMap::new()));
        }
        for row in table
            .range((start, "")..(end, ""))
            .map_err(|e| self.fail(e))?
        {
            let (_, value) = row.map_err(|e| self.fail(e))?;
            records.push(serde_json::from_slice(value.value())?);
        }
        let mut capacity = std::collections::BTreeMap::new();
        match txn.open_table(CAPACITY) {
            Ok(table) => {
                for row in table.range(start..end).map_err(|e| self.fail(e))? {
                    let (hour, value) = row.map_err(|e| self.fail(e))?;
                    capacity.insert(hour.value(), serde_json::from_slice(value.value())?);
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(self.fail(e)),
        }
        Ok((records, capacity))
    }

    /// Keeps `value` under `key` until `expires` (Unix seconds),
    /// replacing what was there, and drops what expired before `now`.
    pub fn put_session(
        &self,
        key: &str,
        value: &[u8],
        expires: i64,
        now: i64,
    ) -> Result<(), JournalError> {
        let txn = self.db.begin_write().map_err(|e| self.fail(e))?;
        {
            let mut table = txn.open_table(SESSIONS).map_err(|e| self.fail(e))?;
            table
                .retain(|_, (at, _)| at > now)
                .map_err(|e| self.fail(e))?;
            table
                .insert(key, (expires, value))
                .map_err(|e| self.fail(e))?;
        }
        txn.commit().map_err(|e| self.fail(e))
    }

    /// The value under `key` if it has not expired at `now`; with `take`,
    /// removed as it is read.
    pub fn session(
        &self,
        key: &str,
        take: bool,
        now: i64,
    ) -> Result<Option<Vec<u8>>, JournalError> {
        let live = |(expires, value): (i64, &[u8])| (expires > now).then(|| value.to_vec());
        if take {
            let txn = self.db.begin_write().map_err(|e| self.fail(e))?;
            let found = {
                let mut table = txn.open_table(SESSIONS).map_err(|e| self.fail(e))?;
                let removed = table.remove(key).map_err(|e| self.fail(e))?;
                removed.and_then(|v| live(v.value()))
            };
            txn.commit().map_err(|e| self.fail(e))?;
            return Ok(found);
        }
        let txn = self.db.begin_read().map_err(|e| self.fail(e))?;
        let table = match txn.open_table(SESSIONS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(self.fail(e)),
        };
        Ok(table
            .get(key)
            .map_err(|e| self.fail(e))?
            .and_then(|v| live(v.value())))
    }

    /// Drops the showback records and capacity of hours before `hour`.
    pub fn forget_allocation_before(&self, hour: i64) -> Result<(), JournalError> {
        let txn = self.db.begin_write().map_err(|e| self.fail(e))?;
        {
            let mut table = txn.open_table(ALLOCATION).map_err(|e| self.fail(e))?;
            table
                .retain_in((i64::MIN, "")..(hour, ""), |_, _| false)
                .map_err(|e| self.fail(e))?;
            let mut table = txn.open_table(CAPACITY).map_err(|e| self.fail(e))?;
            table
                .retain_in(i64::MIN..hour, |_, _| false)
                .map_err(|e| self.fail(e))?;
            let mut index = txn
                .open_table(ALLOCATION_BY_TENANT)
                .map_err(|e| self.fail(e))?;
            index
                .retain(|(_, at, _), _| at >= hour)
                .map_err(|e| self.fail(e))?;
        }
        txn.commit().map_err(|e| self.fail(e))
    }

    /// Every entry kept for `tenant`, oldest first.
    pub fn history(&self, tenant: &str) -> Result<Vec<Entry>, JournalError> {
        let txn = self.db.begin_read().map_err(|e| self.fail(e))?;
        let table = match txn.open_table(DECISIONS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(self.fail(e)),
        };
        let mut out = Vec::new();
        for row in table
            .range((tenant, 0)..=(tenant, u64::MAX))
            .map_err(|e| self.fail(e))?
        {
            let (_, value) = row.map_err(|e| self.fail(e))?;
            out.push(serde_json::from_slice(value.value())?);
        }
        Ok(out)
    }
}

fn db_error(path: &str, e: impl Into<redb::Error>) -> JournalError {
    JournalError::Database {
        path: path.to_owned(),
        source: Box::new(e.into()),
    }
}

impl std::fmt::Display for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.from == self.to {
            writeln!(f, "{} {}", self.at, self.to)?;
        } else {
            writeln!(f, "{} {} → {}", self.at, self.from, self.to)?;
        }
        for a in &self.actions {
            writeln!(f, "    {a}")?;
        }
        for e in &self.events {
            writeln!(f, "    ! {e}")?;
        }
        if let Some(e) = &self.error {
            writeln!(f, "    stopped: {e}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u64) -> Entry {
        Entry {
            at: Timestamp::from_second(1_700_000_000 + n as i64).expect("time"),
            from: "Pending".into(),
            to: "Active".into(),
            actions: vec![format!("apply Namespace/ns-{n} (Create)")],
            events: Vec::new(),
            error: None,
        }
    }

    #[test]
    fn the_audit_log_reads_newest_first_and_survives_reopening() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("journal.redb");
        let audit = |n: u64| AuditEntry {
            at: Timestamp::from_second(1_700_000_000 + n as i64).expect("time"),
            user: "ann".into(),
            action: "wake".into(),
            object: format!("ResourceSupervisor/team/s{n}"),
            outcome: "ok".into(),
        };
        {
            let journal = Journal::open(&path).expect("open");
            assert!(journal.audit_log(10).expect("empty").is_empty());
            for n in 0..5 {
                journal.audit(&audit(n)).expect("audit");
            }
        }
        let journal = Journal::open(&path).expect("reopen");
        assert_eq!(
            journal.audit_log(2).expect("read"),
            vec![audit(4), audit(3)]
        );
        assert_eq!(journal.audit_log(100).expect("read").len(), 5);
    }

    #[test]
    fn entries_come_back_per_tenant_in_order_and_survive_reopening() {
        let dir = std::env::temp_dir().join(format!("mto-journal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("journal.redb");
        let _ = std::fs::remove_file(&path);
        {
            let journal = Journal::open(&path).expect("open");
            journal.record("alpha", &entry(1)).expect("record");
            journal.record("beta", &entry(2)).expect("record");
            journal.record("alpha", &entry(3)).expect("record");
            // A tenant whose name is a prefix of another's stays apart.
            journal.record("alph", &entry(4)).expect("record");
        }
        let journal = Journal::open(&path).expect("reopen");
        assert_eq!(
            journal.history("alpha").expect("read"),
            [entry(1), entry(3)]
        );
        assert_eq!(journal.history("beta").expect("read"), [entry(2)]);
        assert!(journal.history("gamma").expect("read").is_empty());
        let text = entry(1).to_string();
        assert!(text.contains("Pending → Active"), "{text}");
        assert!(text.contains("apply Namespace/ns-1"), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn old_entries_are_dropped_beyond_the_limit() {
        let dir = std::env::temp_dir().join(format!("mto-journal-limit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("journal.redb");
        let _ = std::fs::remove_file(&path);
        let journal = Journal::open(&path).expect("open");
        for n in 0..KEPT_PER_TENANT + 5 {
            journal.record("busy", &entry(n)).expect("record");
        }
        let kept = journal.history("busy").expect("read");
        assert_eq!(kept.len() as u64, KEPT_PER_TENANT);
        assert_eq!(kept.first(), Some(&entry(5)));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
