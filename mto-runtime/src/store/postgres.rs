//! The store in PostgreSQL: the migrations in `mto-runtime/migrations/`
//! applied in order at start (each once, recorded in `mto_migrations`,
//! under an advisory lock so replicas starting together apply them once),
//! then plain statements over one connection, made again when it drops.

use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls};

use mto_model::showback::{Cost, Record, ResourceSeconds};

use super::{Allocation, AuditEntry, Store, StoreError};

/// The migrations, in order: (version, SQL).
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/0001_audit.sql")),
    (2, include_str!("../../migrations/0002_allocation.sql")),
    (3, include_str!("../../migrations/0003_sessions.sql")),
];

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
    async fn put_session(
        &self,
        key: String,
        value: Vec<u8>,
        expires: i64,
    ) -> Result<(), StoreError> {
        let now = mto_model::Timestamp::now().as_second();
        self.with_client(async |c| {
            c.execute("DELETE FROM mto_session WHERE expires <= $1", &[&now])
                .await?;
            c.execute(
                "INSERT INTO mto_session (key, value, expires) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires = EXCLUDED.expires",
                &[&key, &value, &expires],
            )
            .await
            .map(|_| ())
        })
        .await
    }

    async fn session(&self, key: String, take: bool) -> Result<Option<Vec<u8>>, StoreError> {
        let now = mto_model::Timestamp::now().as_second();
        let row = self
            .with_client(async |c| {
                if take {
                    c.query_opt(
                        "DELETE FROM mto_session WHERE key = $1 RETURNING value, expires",
                        &[&key],
                    )
                    .await
                } else {
                    c.query_opt(
                        "SELECT value, expires FROM mto_session WHERE key = $1",
                        &[&key],
                    )
                    .await
                }
            })
            .await?;
        Ok(row.and_then(|r| (r.get::<_, i64>(1) > now).then(|| r.get::<_, Vec<u8>>(0))))
    }

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

    async fn put_allocation(
        &self,
        records: Vec<Record>,
        capacity: Vec<(i64, Cost)>,
    ) -> Result<(), StoreError> {
        // One statement per table however many rows: arrays, unnested.
        let column = |f: fn(&Record) -> i64| records.iter().map(f).collect::<Vec<i64>>();
        let hours = column(|r| r.hour);
        let text = |f: fn(&Record) -> &str| {
            records
                .iter()
                .map(|r| f(r).to_owned())
                .collect::<Vec<String>>()
        };
        let (namespaces, pods, containers) = (
            text(|r| &r.namespace),
            text(|r| &r.pod),
            text(|r| &r.container),
        );
        let tenants: Vec<Option<String>> = records.iter().map(|r| r.tenant.clone()).collect();
        let labels: Vec<String> = records
            .iter()
            .map(|r| serde_json::to_string(&r.labels).unwrap_or_else(|_| "{}".into()))
            .collect();
        let numbers = [
            column(|r| r.used.cpu_request),
            column(|r| r.used.cpu_usage),
            column(|r| r.used.ram_request),
            column(|r| r.used.ram_usage),
            column(|r| r.used.gpu),
            column(|r| r.used.pv),
            column(|r| r.cost.cpu),
            column(|r| r.cost.ram),
            column(|r| r.cost.gpu),
            column(|r| r.cost.pv),
        ];
        let capacity_hours: Vec<i64> = capacity.iter().map(|(h, _)| *h).collect();
        let capacity_cpu: Vec<i64> = capacity.iter().map(|(_, c)| c.cpu).collect();
        let capacity_ram: Vec<i64> = capacity.iter().map(|(_, c)| c.ram).collect();
        self.with_client(async |c| {
            c.batch_execute("BEGIN").await?;
            let work = async {
                c.execute(
                    "INSERT INTO mto_allocation (hour, namespace, pod, container, tenant, labels, \
                       cpu_request, cpu_usage, ram_request, ram_usage, gpu, pv, cpu_cost, ram_cost, gpu_cost, pv_cost) \
                     SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], \
                       $7::BIGINT[], $8::BIGINT[], $9::BIGINT[], $10::BIGINT[], $11::BIGINT[], $12::BIGINT[], \
                       $13::BIGINT[], $14::BIGINT[], $15::BIGINT[], $16::BIGINT[]) \
                     ON CONFLICT (hour, namespace, pod, container) DO UPDATE SET \
                       tenant = EXCLUDED.tenant, labels = EXCLUDED.labels, \
                       cpu_request = EXCLUDED.cpu_request, cpu_usage = EXCLUDED.cpu_usage, \
                       ram_request = EXCLUDED.ram_request, ram_usage = EXCLUDED.ram_usage, \
                       gpu = EXCLUDED.gpu, pv = EXCLUDED.pv, cpu_cost = EXCLUDED.cpu_cost, \
                       ram_cost = EXCLUDED.ram_cost, gpu_cost = EXCLUDED.gpu_cost, pv_cost = EXCLUDED.pv_cost",
                    &[
                        &hours, &namespaces, &pods, &containers, &tenants, &labels,
                        &numbers[0], &numbers[1], &numbers[2], &numbers[3], &numbers[4],
                        &numbers[5], &numbers[6], &numbers[7], &numbers[8], &numbers[9],
                    ],
                )
                .await?;
                c.execute(
                    "INSERT INTO mto_capacity (hour, cpu, ram) \
                     SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[]) \
                     ON CONFLICT (hour) DO UPDATE SET cpu = EXCLUDED.cpu, ram = EXCLUDED.ram",
                    &[&capacity_hours, &capacity_cpu, &capacity_ram],
                )
                .await?;
                c.batch_execute("COMMIT").await
            }
            .await;
            if work.is_err() {
                let _ = c.batch_execute("ROLLBACK").await;
            }
            work
        })
        .await
    }

    async fn allocation(
        &self,
        start: i64,
        end: i64,
        tenant: Option<String>,
    ) -> Result<Allocation, StoreError> {
        const COLUMNS: &str = "SELECT hour, namespace, pod, container, tenant, labels, cpu_request, cpu_usage, \
                               ram_request, ram_usage, gpu, pv, cpu_cost, ram_cost, gpu_cost, pv_cost \
                               FROM mto_allocation WHERE hour >= $1 AND hour < $2";
        // By hour, as the (tenant, hour) index already gives a tenant's.
        const ORDER: &str = "ORDER BY hour";
        let (rows, capacity) = self
            .with_client(async |c| {
                let rows = match tenant.as_deref() {
                    None => {
                        c.query(&format!("{COLUMNS} {ORDER}"), &[&start, &end])
                            .await?
                    }
                    Some("") => {
                        c.query(
                            &format!("{COLUMNS} AND tenant IS NULL {ORDER}"),
                            &[&start, &end],
                        )
                        .await?
                    }
                    Some(t) => {
                        c.query(
                            &format!("{COLUMNS} AND tenant = $3 {ORDER}"),
                            &[&start, &end, &t],
                        )
                        .await?
                    }
                };
                // The capacity is the cluster's, not a tenant's.
                let capacity = if tenant.is_some() {
                    Vec::new()
                } else {
                    c.query(
                        "SELECT hour, cpu, ram FROM mto_capacity WHERE hour >= $1 AND hour < $2",
                        &[&start, &end],
                    )
                    .await?
                };
                Ok((rows, capacity))
            })
            .await?;
        let records = rows
            .iter()
            .map(|row| Record {
                hour: row.get(0),
                namespace: row.get(1),
                pod: row.get(2),
                container: row.get(3),
                tenant: row.get(4),
                labels: serde_json::from_str(row.get::<_, &str>(5)).unwrap_or_default(),
                used: ResourceSeconds {
                    cpu_request: row.get(6),
                    cpu_usage: row.get(7),
                    ram_request: row.get(8),
                    ram_usage: row.get(9),
                    gpu: row.get(10),
                    pv: row.get(11),
                },
                cost: Cost {
                    cpu: row.get(12),
                    ram: row.get(13),
                    gpu: row.get(14),
                    pv: row.get(15),
                },
            })
            .collect();
        let capacity = capacity
            .iter()
            .map(|row| {
                (
                    row.get::<_, i64>(0),
                    Cost {
                        cpu: row.get(1),
                        ram: row.get(2),
                        ..Cost::default()
                    },
                )
            })
            .collect();
        Ok((records, capacity))
    }

    async fn forget_allocation_before(&self, hour: i64) -> Result<(), StoreError> {
        self.with_client(async |c| {
            c.execute("DELETE FROM mto_allocation WHERE hour < $1", &[&hour])
                .await?;
            c.execute("DELETE FROM mto_capacity WHERE hour < $1", &[&hour])
                .await
                .map(|_| ())
        })
        .await
    }
}
