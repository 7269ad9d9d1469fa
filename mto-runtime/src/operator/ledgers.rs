//! The pooled tenant quota's I/O: each tenant's [`Ledger`] in a ConfigMap
//! of mto's namespace, stored compare-and-swap, and its namespaces'
//! quotas read fresh from the apiserver. The judging is the model's
//! ([`mto_model::admission::pooled`]); why this is exact is said there.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use mto_model::admission::pooled::{self, Held, Judgement, Ledger, StatusUpdate, TenantPool};
use mto_model::labels::{MANAGED_BY_LABEL, MANAGED_BY_VALUE, RESOURCE_QUOTA_NAME, TENANT_LABEL};
use mto_model::view::ResourceQuota;

/// How often a judgement is retried when another replica's lands first.
const ATTEMPTS: usize = 16;

/// The tenants' ledgers.
pub struct Ledgers {
    client: Client,
    namespace: String,
    /// One lock per tenant: this replica judges a tenant's increases one at
    /// a time, so its own never conflict with each other.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Why an update could not be judged (the webhook then refuses it).
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The apiserver did not answer as needed.
    #[error("reading or writing tenant {tenant}'s quota ledger: {source}")]
    Api {
        /// The tenant.
        tenant: String,
        /// The client error.
        source: kube::Error,
    },
    /// The stored ledger does not read.
    #[error(
        "tenant {tenant}'s quota ledger (ConfigMap {name}) does not read: {problem} (fix: delete it; mto starts a new one)"
    )]
    Unreadable {
        /// The tenant.
        tenant: String,
        /// The ConfigMap.
        name: String,
        /// What is wrong.
        problem: String,
    },
    /// Other replicas kept landing first.
    #[error(
        "tenant {tenant}'s quota ledger changed under every one of {ATTEMPTS} attempts; try again"
    )]
    Contended {
        /// The tenant.
        tenant: String,
    },
}

impl Ledgers {
    /// The ledgers of mto in `namespace`.
    #[must_use]
    pub fn new(client: Client, namespace: String) -> Ledgers {
        Ledgers {
            client,
            namespace,
            locks: Mutex::default(),
        }
    }

    fn lock(&self, tenant: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(tenant.to_owned())
            .or_default()
            .clone()
    }

    /// Judges `update` of `pool`'s tenant: reads the ledger, then the
    /// quotas, judges, and stores the ledger the judgement asks for,
    /// starting over when another replica stored one in between.
    pub async fn judge(
        &self,
        pool: &TenantPool,
        update: &StatusUpdate,
    ) -> Result<Judgement, LedgerError> {
        let tenant = pool.tenant.as_str();
        let lock = self.lock(tenant);
        let _turn = lock.lock().await;
        let api_error = |source| LedgerError::Api {
            tenant: tenant.to_owned(),
            source,
        };
        let configmaps: Api<ConfigMap> = Api::namespaced(self.client.clone(), &self.namespace);
        let name = ledger_name(tenant);
        for _ in 0..ATTEMPTS {
            // The ledger first, then the quotas: see the model's proof.
            let stored = configmaps.get_opt(&name).await.map_err(api_error)?;
            let ledger = match &stored {
                None => Ledger::default(),
                Some(cm) => read_ledger(cm).map_err(|problem| LedgerError::Unreadable {
                    tenant: tenant.to_owned(),
                    name: name.clone(),
                    problem,
                })?,
            };
            let held = self.held(tenant).await.map_err(api_error)?;
            let judgement = pooled::judge(
                &pool.pool(),
                update,
                &held,
                &ledger,
                mto_model::Timestamp::now(),
            );
            let Judgement::Allow(Some(next)) = &judgement else {
                return Ok(judgement);
            };
            let stored_next =
                ledger_config_map(&name, &self.namespace, tenant, next, stored.as_ref());
            let written = match stored {
                None => {
                    configmaps
                        .create(&PostParams::default(), &stored_next)
                        .await
                }
                Some(_) => {
                    configmaps
                        .replace(&name, &PostParams::default(), &stored_next)
                        .await
                }
            };
            match written {
                Ok(_) => return Ok(judgement),
                // Another replica stored first: judge again with its entry.
                Err(kube::Error::Api(e)) if e.code == 409 => continue,
                Err(e) => return Err(api_error(e)),
            }
        }
        Err(LedgerError::Contended {
            tenant: tenant.to_owned(),
        })
    }

    /// Deletes the ledgers of tenants that are gone (`exists` says no)
    /// and whose every reservation has lapsed: nothing in them counts any
    /// more, so deleting them can change no judgement, even one made from
    /// a view that has not seen the tenant yet. Compare-and-swap: a ledger
    /// written meanwhile stays. How many went.
    pub async fn prune(
        &self,
        exists: impl Fn(&str) -> bool,
        now: mto_model::Timestamp,
    ) -> Result<usize, kube::Error> {
        let configmaps: Api<ConfigMap> = Api::namespaced(self.client.clone(), &self.namespace);
        let listed = configmaps
            .list(&ListParams::default().labels(LEDGER_OF_LABEL))
            .await?;
        let mut pruned = 0;
        for cm in listed.items {
            if !prunable(&cm, &exists, now) {
                continue;
            }
            let name = cm.metadata.name.clone().unwrap_or_default();
            let params = kube::api::DeleteParams {
                preconditions: Some(kube::api::Preconditions {
                    resource_version: cm.metadata.resource_version.clone(),
                    uid: None,
                }),
                ..Default::default()
            };
            match configmaps.delete(&name, &params).await {
                Ok(_) => pruned += 1,
                // Written or deleted meanwhile: left for the next round.
                Err(kube::Error::Api(e)) if e.code == 409 || e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(pruned)
    }

    /// The tenant's namespace quotas, read now (a consistent list, not
    /// the watch cache).
    async fn held(&self, tenant: &str) -> Result<Vec<Held>, kube::Error> {
        let quotas: Api<ResourceQuota> = Api::all(self.client.clone());
        let listed = quotas
            .list(&ListParams::default().labels(&format!(
                "{TENANT_LABEL}={tenant},{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}"
            )))
            .await?;
        Ok(listed
            .items
            .into_iter()
            .filter(|rq| rq.metadata.read().name() == Some(RESOURCE_QUOTA_NAME))
            .map(|rq| pooled::held_of(&rq))
            .collect())
    }
}

/// The ConfigMap holding `tenant`'s ledger.
#[must_use]
pub fn ledger_name(tenant: &str) -> String {
    format!("mto-quota-ledger-{tenant}")
}

const LEDGER_KEY: &str = "ledger.json";

/// The label naming the tenant a ledger is of.
const LEDGER_OF_LABEL: &str = "tenantoperator.stakater.com/ledger-of";

/// Whether a ledger may go: its tenant is gone and every reservation in
/// it has lapsed. One that does not read stays (no deletion on doubt).
fn prunable(cm: &ConfigMap, exists: &impl Fn(&str) -> bool, now: mto_model::Timestamp) -> bool {
    let tenant = cm
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(LEDGER_OF_LABEL))
        .map_or("", String::as_str);
    let lapsed = read_ledger(cm).is_ok_and(|ledger| {
        ledger.reservations.iter().all(|r| {
            now.duration_since(r.at)
                .try_into()
                .is_ok_and(|age: std::time::Duration| age >= pooled::RESERVATION_LIFETIME)
        })
    });
    !tenant.is_empty() && !exists(tenant) && lapsed
}

fn read_ledger(cm: &ConfigMap) -> Result<Ledger, String> {
    match cm.data.as_ref().and_then(|d| d.get(LEDGER_KEY)) {
        None => Ok(Ledger::default()),
        Some(text) => serde_json::from_str(text).map_err(|e| e.to_string()),
    }
}

fn ledger_config_map(
    name: &str,
    namespace: &str,
    tenant: &str,
    ledger: &Ledger,
    stored: Option<&ConfigMap>,
) -> ConfigMap {
    // Serializing plain strings and timestamps cannot fail.
    let text = serde_json::to_string(ledger).unwrap_or_default();
    ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            // The compare-and-swap: the version read.
            resource_version: stored.and_then(|s| s.metadata.resource_version.clone()),
            labels: Some(
                [
                    (MANAGED_BY_LABEL.to_owned(), MANAGED_BY_VALUE.to_owned()),
                    (LEDGER_OF_LABEL.to_owned(), tenant.to_owned()),
                ]
                .into(),
            ),
            ..Default::default()
        },
        data: Some([(LEDGER_KEY.to_owned(), text)].into()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mto_model::admission::pooled::Reservation;

    fn ledger(tenant: &str, at: mto_model::Timestamp) -> ConfigMap {
        let ledger = Ledger {
            reservations: vec![Reservation {
                namespace: format!("{tenant}-dev"),
                base: "7".into(),
                used: [("pods".to_owned(), "3".to_owned())].into(),
                at,
            }],
        };
        ledger_config_map(&ledger_name(tenant), "mto-system", tenant, &ledger, None)
    }

    #[test]
    fn only_a_gone_tenants_lapsed_ledger_is_pruned() {
        let now = mto_model::Timestamp::from_second(1_790_000_000).unwrap_or_default();
        let old = now - pooled::RESERVATION_LIFETIME;
        let gone = |t: &str| t != "gone";
        assert!(prunable(&ledger("gone", old), &gone, now));
        assert!(
            !prunable(&ledger("gone", now), &gone, now),
            "a reservation still counts"
        );
        assert!(
            !prunable(&ledger("alive", old), &gone, now),
            "its tenant is here"
        );
        let mut unreadable = ledger("gone", old);
        unreadable.data = Some([(LEDGER_KEY.to_owned(), "{".to_owned())].into());
        assert!(!prunable(&unreadable, &gone, now), "no deletion on doubt");
    }
}
