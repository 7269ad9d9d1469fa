//! mto's Vault client: carries out the Vault machine's calls over Vault's
//! HTTP API.
//!
//! A reading lists what Vault holds of the kinds mto keeps (mounts, ACL
//! policies, identity groups, Kubernetes-auth roles) and sorts them into
//! mto's (its mark) and others'. Every write first looks at what is there
//! now: a create only where nothing is, an update or delete only of what
//! still carries mto's mark. So a name someone took since the last
//! reading is refused, never overwritten.

use std::collections::BTreeMap;
use std::path::PathBuf;

use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::core::v1::Secret;
use mto_model::vault::{
    GROUP_MARK_KEY, KUBERNETES_AUTH_PATH, POLICY_MARK, VaultAuth, VaultCall, VaultHoldings,
    VaultKey, VaultKind, VaultObject, VaultSettings,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// Where a pod's service account token is.
pub const SERVICE_ACCOUNT_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";
/// Reads in flight at once while listing Vault.
const READS_IN_FLIGHT: usize = 16;

/// Talks to the Vault the IntegrationConfig names.
pub struct VaultClient {
    http: reqwest::Client,
    kube: kube::Client,
    jwt_file: PathBuf,
    /// The token in use, for the address it was got from.
    token: Mutex<Option<(String, String)>>,
}

/// Whether a name is free, mto's, or someone else's.
enum Holder {
    Nobody,
    Mto(VaultObject),
    Someone,
}

impl VaultClient {
    /// A client signing in with `kube`'s Secrets (token auth) or the
    /// service account token in `jwt_file` (Kubernetes auth).
    #[must_use]
    pub fn new(kube: kube::Client, jwt_file: PathBuf) -> VaultClient {
        VaultClient {
            // A call that hangs holds the Vault machine's run: ten seconds
            // and it backs off instead.
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            kube,
            jwt_file,
            token: Mutex::new(None),
        }
    }

    /// Carries out `call`: a reading returns what Vault holds.
    ///
    /// # Errors
    /// Vault's answer, or why it could not be asked, as one line.
    pub async fn call(
        &self,
        settings: &VaultSettings,
        call: &VaultCall,
    ) -> Result<Option<VaultHoldings>, String> {
        let session = Session {
            client: self,
            settings,
        };
        let result = match call {
            VaultCall::Read { .. } => session.read().await.map(Some),
            VaultCall::Write { object, .. } => session.write(object).await.map(|()| None),
            VaultCall::Delete { key, .. } => session.delete(key).await.map(|()| None),
        };
        if result.is_err() {
            // A token revoked or expired is got afresh next time.
            *self.token.lock().await = None;
        }
        result
    }

    async fn token(&self, settings: &VaultSettings) -> Result<String, String> {
        let mut held = self.token.lock().await;
        if let Some((address, token)) = held.as_ref()
            && *address == settings.address
        {
            return Ok(token.clone());
        }
        let token = match settings.auth {
            VaultAuth::Token => {
                let (namespace, name) = settings
                    .secret_ref
                    .clone()
                    .ok_or("no accessInfo.secretRef for token auth")?;
                let secret = kube::Api::<Secret>::namespaced(self.kube.clone(), &namespace)
                    .get(&name)
                    .await
                    .map_err(|e| format!("reading Secret {namespace}/{name}: {e}"))?;
                let bytes = secret
                    .data
                    .as_ref()
                    .and_then(|d| d.get("token"))
                    .ok_or(format!("Secret {namespace}/{name} has no key `token`"))?;
                String::from_utf8(bytes.0.clone())
                    .map_err(|_| format!("Secret {namespace}/{name}: `token` is not text"))?
                    .trim()
                    .to_owned()
            }
            VaultAuth::Kubernetes => {
                // A few hundred bytes, read at sign-in only.
                let jwt = std::fs::read_to_string(&self.jwt_file)
                    .map_err(|e| format!("reading {}: {e}", self.jwt_file.display()))?;
                let role = settings.role_name.clone().unwrap_or_default();
                let url = format!("{}/v1/auth/{KUBERNETES_AUTH_PATH}/login", settings.address);
                let answer = send(
                    self.http
                        .post(&url)
                        .json(&json!({"role": role, "jwt": jwt.trim()})),
                    &url,
                )
                .await?
                .ok_or(format!("{url}: no answer"))?;
                answer["auth"]["client_token"]
                    .as_str()
                    .ok_or(format!("{url}: no client_token in the answer"))?
                    .to_owned()
            }
        };
        *held = Some((settings.address.clone(), token.clone()));
        Ok(token)
    }
}

/// One call's dealings with Vault.
struct Session<'a> {
    client: &'a VaultClient,
    settings: &'a VaultSettings,
}

impl Session<'_> {
    /// Sends a request; `None` for 404 (and 204).
    async fn ask(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Option<Value>, String> {
        let token = self.client.token(self.settings).await?;
        let url = format!("{}/v1/{path}", self.settings.address);
        let mut request = self
            .client
            .http
            .request(method, &url)
            .header("X-Vault-Token", token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        send(request, &url).await
    }

    async fn get(&self, path: &str) -> Result<Option<Value>, String> {
        self.ask(Method::GET, path, None).await
    }

    /// The names under a path (`LIST`); none when there is nothing.
    async fn list(&self, path: &str) -> Result<Vec<String>, String> {
        let answer = self.get(&format!("{path}?list=true")).await?;
        Ok(answer
            .and_then(|a| a["data"]["keys"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .collect())
    }

    /// Auth mount paths (without their slash) by accessor, and back.
    async fn auth_mounts(&self) -> Result<BTreeMap<String, String>, String> {
        let answer = self.get("sys/auth").await?.unwrap_or_default();
        let table = answer["data"].as_object().cloned().unwrap_or_default();
        Ok(table
            .iter()
            .filter_map(|(path, m)| {
                Some((
                    m["accessor"].as_str()?.to_owned(),
                    path.trim_end_matches('/').to_owned(),
                ))
            })
            .collect())
    }

    async fn read(&self) -> Result<VaultHoldings, String> {
        let mut holdings = VaultHoldings::default();
        let mut sort = |key: VaultKey, holder: Holder| match holder {
            Holder::Nobody => {}
            Holder::Mto(object) => {
                holdings.mine.insert(key, object);
            }
            Holder::Someone => {
                holdings.taken.insert(key);
            }
        };
        let mounts = self.get("sys/mounts").await?.unwrap_or_default();
        for (path, mount) in mounts["data"].as_object().cloned().unwrap_or_default() {
            let name = path.trim_end_matches('/').to_owned();
            let holder = mount_holder(&name, &mount);
            sort(
                VaultKey {
                    kind: VaultKind::Mount,
                    name,
                },
                holder,
            );
        }
        let accessors = self.auth_mounts().await?;
        for kind in [VaultKind::Policy, VaultKind::Group, VaultKind::Role] {
            let names = match kind {
                VaultKind::Policy => self.list("sys/policies/acl").await?,
                VaultKind::Group => self.list("identity/group/name").await?,
                _ if accessors.values().any(|p| p == KUBERNETES_AUTH_PATH) => {
                    self.list(&format!("auth/{KUBERNETES_AUTH_PATH}/role"))
                        .await?
                }
                _ => Vec::new(),
            };
            let holders: Vec<(String, Holder)> = stream::iter(names)
                .map(|name| {
                    let accessors = &accessors;
                    async move {
                        let holder = self.holder(kind, &name, accessors).await?;
                        Ok::<_, String>((name, holder))
                    }
                })
                .buffer_unordered(READS_IN_FLIGHT)
                .try_collect()
                .await?;
            for (name, holder) in holders {
                sort(VaultKey { kind, name }, holder);
            }
        }
        Ok(holdings)
    }

    /// Who holds `name` of `kind` now.
    async fn holder(
        &self,
        kind: VaultKind,
        name: &str,
        accessors: &BTreeMap<String, String>,
    ) -> Result<Holder, String> {
        match kind {
            VaultKind::Mount => {
                let answer = self.get(&format!("sys/mounts/{name}")).await?;
                Ok(answer.map_or(Holder::Nobody, |m| {
                    let m = if m["data"].is_object() {
                        &m["data"]
                    } else {
                        &m
                    };
                    mount_holder(name, m)
                }))
            }
            VaultKind::Policy => {
                let answer = self.get(&format!("sys/policies/acl/{name}")).await?;
                Ok(answer.map_or(Holder::Nobody, |p| {
                    let rules = p["data"]["policy"].as_str().unwrap_or_default();
                    if rules.starts_with(POLICY_MARK) {
                        Holder::Mto(VaultObject::Policy {
                            name: name.to_owned(),
                            rules: rules.to_owned(),
                        })
                    } else {
                        Holder::Someone
                    }
                }))
            }
            VaultKind::Group => {
                let answer = self.get(&format!("identity/group/name/{name}")).await?;
                Ok(answer.map_or(Holder::Nobody, |g| {
                    let g = &g["data"];
                    if g["metadata"][GROUP_MARK_KEY].as_str() != Some("mto") {
                        return Holder::Someone;
                    }
                    let mut policies = strings(&g["policies"]);
                    policies.sort_unstable();
                    let alias_mount = g["alias"]["mount_accessor"]
                        .as_str()
                        .filter(|_| g["alias"]["name"].as_str() == Some(name))
                        .and_then(|a| accessors.get(a).cloned());
                    Holder::Mto(VaultObject::Group {
                        name: name.to_owned(),
                        policies,
                        alias_mount,
                    })
                }))
            }
            VaultKind::Role => {
                let answer = self
                    .get(&format!("auth/{KUBERNETES_AUTH_PATH}/role/{name}"))
                    .await?;
                Ok(answer.map_or(Holder::Nobody, |r| {
                    let r = &r["data"];
                    let policies = strings(&r["token_policies"]);
                    match policies.as_slice() {
                        [policy] if policy.ends_with("-vault-access") => {
                            let mut service_accounts = strings(&r["bound_service_account_names"]);
                            service_accounts.sort_unstable();
                            let bound_here =
                                strings(&r["bound_service_account_namespaces"]) == [name];
                            Holder::Mto(VaultObject::Role {
                                namespace: name.to_owned(),
                                // Bound elsewhere too: drift, put back.
                                service_accounts: if bound_here {
                                    service_accounts
                                } else {
                                    Vec::new()
                                },
                                policy: policy.clone(),
                            })
                        }
                        _ => Holder::Someone,
                    }
                }))
            }
        }
    }

    /// Refuses a write to a name someone else holds now; says whether
    /// mto's object is there.
    async fn check(&self, key: &VaultKey) -> Result<bool, String> {
        // Whose it is rests on mto's mark alone, not on a group's alias:
        // no auth mounts need reading.
        match self.holder(key.kind, &key.name, &BTreeMap::new()).await? {
            Holder::Someone => Err(format!("{key} exists and mto did not make it; left alone")),
            Holder::Nobody => Ok(false),
            Holder::Mto(_) => Ok(true),
        }
    }

    async fn write(&self, object: &VaultObject) -> Result<(), String> {
        let key = object.key();
        let exists = self.check(&key).await?;
        match object {
            VaultObject::Mount { tenant, purge } => {
                let description = VaultObject::mount_description(tenant, *purge);
                if exists {
                    self.ask(
                        Method::POST,
                        &format!("sys/mounts/{tenant}/tune"),
                        Some(json!({"description": description})),
                    )
                    .await?;
                } else {
                    self.ask(
                        Method::POST,
                        &format!("sys/mounts/{tenant}"),
                        Some(json!({"type": "kv", "options": {"version": "2"}, "description": description})),
                    )
                    .await?;
                }
            }
            VaultObject::Policy { name, rules } => {
                self.ask(
                    Method::PUT,
                    &format!("sys/policies/acl/{name}"),
                    Some(json!({"policy": rules})),
                )
                .await?;
            }
            VaultObject::Group {
                name,
                policies,
                alias_mount,
            } => {
                self.ask(
                    Method::POST,
                    &format!("identity/group/name/{name}"),
                    Some(json!({"type": "external", "policies": policies,
                                "metadata": {GROUP_MARK_KEY: "mto"}})),
                )
                .await?;
                self.alias(name, alias_mount.as_deref()).await?;
            }
            VaultObject::Role {
                namespace,
                service_accounts,
                policy,
            } => {
                self.ask(
                    Method::POST,
                    &format!("auth/{KUBERNETES_AUTH_PATH}/role/{namespace}"),
                    Some(json!({"bound_service_account_names": service_accounts,
                                "bound_service_account_namespaces": [namespace],
                                "token_policies": [policy]})),
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Points group `name`'s alias at the group of that name on
    /// `alias_mount` (or removes it).
    async fn alias(&self, name: &str, alias_mount: Option<&str>) -> Result<(), String> {
        let group = self
            .get(&format!("identity/group/name/{name}"))
            .await?
            .ok_or(format!("vault group {name} is gone after its write"))?;
        let group = &group["data"];
        let id = group["id"].as_str().unwrap_or_default().to_owned();
        let alias_id = group["alias"]["id"].as_str().map(str::to_owned);
        let Some(mount) = alias_mount else {
            if let Some(alias_id) = alias_id {
                self.ask(
                    Method::DELETE,
                    &format!("identity/group-alias/id/{alias_id}"),
                    None,
                )
                .await?;
            }
            return Ok(());
        };
        let accessors = self.auth_mounts().await?;
        let accessor = accessors
            .iter()
            .find(|(_, path)| path.as_str() == mount)
            .map(|(accessor, _)| accessor.clone())
            .ok_or(format!(
                "IntegrationConfig spec.integrations.vault.accessInfo.accessorPath: {mount}/ is not an auth method in Vault; enable the SSO login there or fix the path"
            ))?;
        let body = json!({"name": name, "mount_accessor": accessor, "canonical_id": id});
        let path = match alias_id {
            Some(alias_id) => format!("identity/group-alias/id/{alias_id}"),
            None => "identity/group-alias".to_owned(),
        };
        self.ask(Method::POST, &path, Some(body)).await?;
        Ok(())
    }

    async fn delete(&self, key: &VaultKey) -> Result<(), String> {
        self.check(key).await?;
        let path = match key.kind {
            VaultKind::Mount => format!("sys/mounts/{}", key.name),
            VaultKind::Policy => format!("sys/policies/acl/{}", key.name),
            VaultKind::Group => format!("identity/group/name/{}", key.name),
            VaultKind::Role => format!("auth/{KUBERNETES_AUTH_PATH}/role/{}", key.name),
        };
        self.ask(Method::DELETE, &path, None).await?;
        Ok(())
    }
}

/// Whether a mount (as `sys/mounts` describes it) is mto's.
fn mount_holder(name: &str, mount: &Value) -> Holder {
    let description = mount["description"].as_str().unwrap_or_default();
    match VaultObject::mount_from(name, description) {
        Some(object) if mount["type"].as_str() == Some("kv") => Holder::Mto(object),
        _ => Holder::Someone,
    }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// Sends `request`; the answer's JSON, `None` for 404 or an empty body,
/// Vault's errors for any other failure.
async fn send(request: reqwest::RequestBuilder, url: &str) -> Result<Option<Value>, String> {
    let response = request
        .send()
        .await
        .map_err(|e| format!("Vault cannot be reached at {url}: {e}"))?;
    let status = response.status();
    if status == StatusCode::NOT_FOUND {
        return Ok(None);
    }
    let body = response
        .text()
        .await
        .map_err(|e| format!("{url}: reading the answer: {e}"))?;
    if !status.is_success() {
        let errors = serde_json::from_str::<Value>(&body)
            .ok()
            .map(|v| strings(&v["errors"]).join("; "))
            .filter(|e| !e.is_empty())
            .unwrap_or(body);
        return Err(format!("Vault answered {status} to {url}: {errors}"));
    }
    if body.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(&body)
        .map(Some)
        .map_err(|e| format!("{url}: the answer is not JSON: {e}"))
}
