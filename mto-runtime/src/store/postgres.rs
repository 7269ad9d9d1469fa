//! The store in PostgreSQL: the migrations in `mto-runtime/migrations/`
//! applied in order at start (each once, recorded in `mto_migrations`,
//! under an advisory lock so replicas starting together apply them once),
//! then plain statements over one connection, made again when it drops.

use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls};

use super::{AuditEntry, Store, StoreError};

/// The migrations, in order: (version, SQL).
const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../../migrations/0001_audit.sql"))];

/// Any number, the same in every replica: the advisory lock migrations
/// are applied under.
const MIGRATION_LOCK: i64 = 0x006d_746f_5f6d_6967;

/// A PostgreSQL database.
pub struct Postgres {
    url: String,
    client: Mutex<Option<Client>>,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password.
        f.debug_struct("Postgres").finish_non_exhaustive()
    }
}

impl Postgres {
    /// Connects to `url` (`postgres://user:password@host:port/database`)
    /// and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Postgres, StoreError> {
        let store = Postgres {
            url: url.to_owned(),
            client: Mutex::new(None),
        };
        {
            let mut guard = store.client.lock().await;
            let client = open(url).await?;
            migrate(&client).await?;
            *guard = Some(client);
        }
        Ok(store)
    }

    /// Runs `work` on the connection, connecting again if it dropped.
    async fn with_client<T>(
        &self,
        work: impl AsyncFnOnce(&Client) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, StoreError> {
        let mut guard = self.client.lock().await;
        if guard.as_ref().is_none_or(Client::is_closed) {
            *guard = Some(open(&self.url).await?);
        }
        let client = guard
            .as_ref()
            .ok_or_else(|| StoreError::Task("no connection".into()))?;
        Ok(work(client).await?)
    }
}

async fn open(url: &str) -> Result<Client, StoreError> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "the PostgreSQL connection dropped");
        }
    });
    Ok(client)
}

async fn migrate(client: &Client) -> Result<(), StoreError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let result = async {
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS mto_migrations (version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
            )
            .await?;
        for (version, sql) in MIGRATIONS {
            let applied = client
                .query_opt("SELECT 1 FROM mto_migrations WHERE version = $1", &[version])
                .await?
                .is_some();
            if applied {
                continue;
            }
            client.batch_execute("BEGIN").await?;
            let step = async {
                client.batch_execute(sql).await?;
                client
                    .execute("INSERT INTO mto_migrations (version) VALUES ($1)", &[version])
                    .await?;
                client.batch_execute("COMMIT").await
            }
            .await;
            if step.is_err() {
                let _ = client.batch_execute("ROLLBACK").await;
            }
            step?;
            tracing::info!(version, "applied a store migration");
        }
        Ok::<(), tokio_postgres::Error>(())
    }
    .await;
    let _ = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await;
    Ok(result?)
}

impl Store for Postgres {
    async fn record_audit(&self, entry: AuditEntry) -> Result<(), StoreError> {
        let micros = entry.at.as_microsecond();
        self.with_client(async |c| {
            c.execute(
                "INSERT INTO mto_audit (at_micros, \"user\", action, object, outcome) VALUES ($1, $2, $3, $4, $5)",
                &[&micros, &entry.user, &entry.action, &entry.object, &entry.outcome],
            )
            .await
            .map(|_| ())
        })
        .await
    }

    async fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .with_client(async |c| {
                c.query(
                    "SELECT at_micros, \"user\", action, object, outcome FROM mto_audit ORDER BY id DESC LIMIT $1",
                    &[&limit],
                )
                .await
            })
            .await?;
        Ok(rows
            .iter()
            .map(|row| AuditEntry {
                at: mto_model::Timestamp::from_microsecond(row.get::<_, i64>(0))
                    .unwrap_or_default(),
                user: row.get(1),
                action: row.get(2),
                object: row.get(3),
                outcome: row.get(4),
            })
            .collect())
    }
}
