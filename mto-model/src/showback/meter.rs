//! The meter: what the cluster's pods, volumes and nodes held over time,
//! kept exactly from what a watch delivers — a life is the intervals
//! between events, not samples.
//!
//! A pod holds its containers' requests from the moment it is scheduled
//! (its `PodScheduled` condition) until it finishes (its containers'
//! `finishedAt`) or is deleted; a claim holds its capacity while it is
//! bound; a node offers its allocatable CPU and memory while it exists.
//! Each can be read back from the object alone, so a meter started late
//! (after a restart) knows everything still running from its start, and
//! what the next flush writes is complete for it. What ended while no
//! meter watched is what the last flush wrote.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as KubeQuantity;

use super::{Container, Holding, Interval, ResourceSeconds, integrate};
use crate::quantity::Quantity;

/// The resource names GPUs are requested under.
const GPU_RESOURCES: &[&str] = &["nvidia.com/gpu", "amd.com/gpu"];

/// What one pod's container, or one claim, is metered under.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Metered {
    /// The namespace.
    pub namespace: String,
    /// The pod, or `persistentvolumeclaim/NAME` for a claim.
    pub pod: String,
    /// The container (`volume` for a claim).
    pub container: String,
}

#[derive(Clone, Debug, Default)]
struct Life {
    /// The pod's uid: a pod of the same name made again is a new life.
    uid: Option<String>,
    tenant: Option<String>,
    labels: BTreeMap<String, String>,
    closed: Vec<Interval>,
    /// Since when, holding what: the interval still open.
    open: Option<(i64, Holding)>,
    /// Ended for good (a finished pod seen again stays finished).
    ended: bool,
}

impl Life {
    fn close(&mut self, at: i64) {
        if let Some((from, holding)) = self.open.take()
            && at > from
        {
            self.closed.push(Interval {
                from,
                to: at,
                holding,
            });
        }
    }

    /// When a new stretch seen at `at` began: `since` for the first,
    /// never before the last one ended.
    fn start(&self, since: i64, at: i64) -> i64 {
        self.closed
            .last()
            .map_or(since, |last| since.max(last.to))
            .min(at)
    }

    /// Now holding `holding` (since `since` if nothing was open), or, with
    /// `None`, ended at `at`.
    fn hold(&mut self, holding: Option<Holding>, since: i64, at: i64) {
        match (holding, self.open) {
            (None, _) => {
                self.close(at);
                self.ended = true;
            }
            (Some(h), Some((from, open))) if h == open => {
                // The object now says it began earlier (a pod bound at
                // creation reports its scheduling later): its word stands.
                if self.closed.is_empty() && since < from {
                    self.open = Some((since, h));
                }
            }
            (Some(h), Some(_)) => {
                self.close(at);
                self.open = Some((at, h));
            }
            (Some(h), None) if !self.ended => self.open = Some((self.start(since, at), h)),
            (Some(_), None) => {}
        }
    }
}

/// The pods', claims' and nodes' lives being metered.
#[derive(Clone, Debug, Default)]
pub struct Meter {
    lives: BTreeMap<Metered, Life>,
    nodes: BTreeMap<String, Life>,
}

fn quantity(q: Option<&KubeQuantity>) -> Quantity {
    q.and_then(|q| Quantity::parse(&q.0).ok())
        .unwrap_or(Quantity::ZERO)
}

fn seconds(t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> i64 {
    t.0.as_second()
}

/// When the pod was scheduled, if it was.
fn scheduled_at(pod: &Pod) -> Option<i64> {
    pod.spec.as_ref()?.node_name.as_ref()?;
    let status = pod.status.as_ref();
    let condition = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| {
            cs.iter()
                .find(|c| c.type_ == "PodScheduled" && c.status == "True")
        })
        .and_then(|c| c.last_transition_time.as_ref())
        .map(seconds);
    condition
        .or_else(|| status.and_then(|s| s.start_time.as_ref()).map(seconds))
        .or_else(|| pod.metadata.creation_timestamp.as_ref().map(seconds))
}

/// When a finished pod's last container stopped, if it finished.
fn finished_at(pod: &Pod) -> Option<Option<i64>> {
    let status = pod.status.as_ref()?;
    if !matches!(status.phase.as_deref(), Some("Succeeded" | "Failed")) {
        return None;
    }
    Some(
        status
            .container_statuses
            .iter()
            .flatten()
            .filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref())
            .map(seconds)
            .max(),
    )
}

/// What each of a pod's containers asks for (requests; GPUs from limits
/// when not requested, as Kubernetes defaults them).
fn containers_of(pod: &Pod) -> Vec<(String, Holding)> {
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    spec.containers
        .iter()
        .map(|c| {
            let resources = c.resources.as_ref();
            let requests = resources.and_then(|r| r.requests.as_ref());
            let limits = resources.and_then(|r| r.limits.as_ref());
            let gpus = GPU_RESOURCES
                .iter()
                .map(|name| {
                    let q = quantity(
                        requests
                            .and_then(|r| r.get(*name))
                            .or_else(|| limits.and_then(|l| l.get(*name))),
                    );
                    i64::try_from(q.nanos() / 1_000_000_000).unwrap_or(0)
                })
                .sum();
            let cpu = quantity(requests.and_then(|r| r.get("cpu")));
            let ram = quantity(requests.and_then(|r| r.get("memory")));
            (
                c.name.clone(),
                Holding {
                    cpu_request: cpu,
                    // Without a usage feed, usage is the request.
                    cpu_usage: cpu,
                    ram_request: ram,
                    ram_usage: ram,
                    gpus,
                    pv: Quantity::ZERO,
                },
            )
        })
        .collect()
}

impl Meter {
    /// An empty meter.
    #[must_use]
    pub fn new() -> Meter {
        Meter::default()
    }

    /// A pod as a watch delivered it at `at` (Unix seconds), in a
    /// namespace of `tenant`.
    pub fn observe_pod(&mut self, pod: &Pod, tenant: Option<&str>, at: i64) {
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let Some(since) = scheduled_at(pod) else {
            return;
        };
        let finished = finished_at(pod);
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        let uid = pod.metadata.uid.as_deref();
        for (container, holding) in containers_of(pod) {
            let key = Metered {
                namespace: namespace.clone(),
                pod: name.clone(),
                container,
            };
            let life = self.life(key, tenant, &labels);
            if life.uid.as_deref() != uid {
                // Another pod of the same name (a StatefulSet's, made again).
                life.close(at);
                life.uid = uid.map(str::to_owned);
                life.ended = false;
            }
            match finished {
                Some(end) => {
                    // A pod first seen finished ran from `since` to its end.
                    if life.open.is_none() && !life.ended {
                        life.open = Some((life.start(since, at), holding));
                    }
                    life.hold(None, since, end.unwrap_or(at).min(at));
                }
                None => life.hold(Some(holding), since, at),
            }
        }
    }

    /// A pod deleted, as a watch told at `at`.
    pub fn pod_gone(&mut self, namespace: &str, name: &str, at: i64) {
        for (_, life) in self
            .lives
            .iter_mut()
            .filter(|(k, _)| k.namespace == namespace && k.pod == name)
        {
            life.hold(None, at, at);
        }
    }

    /// A claim as a watch delivered it at `at`: bound, it holds its
    /// capacity since it was created.
    pub fn observe_claim(&mut self, claim: &PersistentVolumeClaim, tenant: Option<&str>, at: i64) {
        let namespace = claim.metadata.namespace.clone().unwrap_or_default();
        let name = claim.metadata.name.clone().unwrap_or_default();
        let status = claim.status.as_ref();
        let bound = status.and_then(|s| s.phase.as_deref()) == Some("Bound");
        let capacity = quantity(
            status
                .and_then(|s| s.capacity.as_ref())
                .and_then(|c| c.get("storage")),
        );
        let created = claim
            .metadata
            .creation_timestamp
            .as_ref()
            .map_or(at, seconds);
        let labels = claim.metadata.labels.clone().unwrap_or_default();
        let life = self.life(Metered::claim(&namespace, &name), tenant, &labels);
        // Bound again after a while unbound: from now.
        let since = if life.closed.is_empty() { created } else { at };
        if bound {
            let holding = Holding {
                pv: capacity,
                ..Holding::default()
            };
            // A claim unbound and bound again is a new stretch.
            life.ended = false;
            life.hold(Some(holding), since, at);
        } else if life.open.is_some() {
            life.close(at);
        }
    }

    /// A claim deleted at `at`.
    pub fn claim_gone(&mut self, namespace: &str, name: &str, at: i64) {
        if let Some(life) = self.lives.get_mut(&Metered::claim(namespace, name)) {
            life.hold(None, at, at);
        }
    }

    /// A node as a watch delivered it at `at`: it offers its allocatable
    /// CPU and memory.
    pub fn observe_node(&mut self, node: &Node, at: i64) {
        let name = node.metadata.name.clone().unwrap_or_default();
        let allocatable = node.status.as_ref().and_then(|s| s.allocatable.as_ref());
        let cpu = quantity(allocatable.and_then(|a| a.get("cpu")));
        let ram = quantity(allocatable.and_then(|a| a.get("memory")));
        let since = node
            .metadata
            .creation_timestamp
            .as_ref()
            .map_or(at, seconds);
        let holding = Holding {
            cpu_request: cpu,
            ram_request: ram,
            ..Holding::default()
        };
        let life = self.nodes.entry(name).or_default();
        life.ended = false;
        life.hold(Some(holding), since, at);
    }

    /// A node deleted at `at`.
    pub fn node_gone(&mut self, name: &str, at: i64) {
        if let Some(life) = self.nodes.get_mut(name) {
            life.hold(None, at, at);
        }
    }

    fn life(
        &mut self,
        key: Metered,
        tenant: Option<&str>,
        labels: &BTreeMap<String, String>,
    ) -> &mut Life {
        let life = self.lives.entry(key).or_default();
        life.tenant = tenant.map(str::to_owned);
        labels.clone_into(&mut life.labels);
        life
    }

    /// Everything metered, as containers for [`super::rows`], what is
    /// still running counted until `now`.
    #[must_use]
    pub fn containers(&self, now: i64) -> Vec<Container> {
        self.lives
            .iter()
            .map(|(key, life)| Container {
                tenant: life.tenant.clone(),
                namespace: key.namespace.clone(),
                pod: key.pod.clone(),
                container: key.container.clone(),
                labels: life.labels.clone(),
                intervals: intervals(life, now),
            })
            .collect()
    }

    /// What the nodes offered over `[start, end)`, `now` the end of what
    /// is known: CPU and memory as requests.
    #[must_use]
    pub fn capacity(&self, start: i64, end: i64, now: i64) -> ResourceSeconds {
        self.nodes
            .values()
            .map(|life| integrate(&intervals(life, now), start, end))
            .fold(ResourceSeconds::default(), ResourceSeconds::plus)
    }

    /// Forgets what ended before `at` (hours before it are final).
    pub fn forget_before(&mut self, at: i64) {
        let keep = |life: &mut Life| {
            life.closed.retain(|i| i.to > at);
            life.open.is_some() || !life.closed.is_empty()
        };
        self.lives.retain(|_, life| keep(life));
        self.nodes.retain(|_, life| keep(life));
    }

    /// How many pods' containers and claims are metered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lives.len()
    }

    /// Whether nothing is metered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lives.is_empty()
    }
}

impl Metered {
    /// A claim's key.
    #[must_use]
    pub fn claim(namespace: &str, name: &str) -> Metered {
        Metered {
            namespace: namespace.to_owned(),
            pod: format!("persistentvolumeclaim/{name}"),
            container: "volume".into(),
        }
    }
}

fn intervals(life: &Life, now: i64) -> Vec<Interval> {
    let mut out = life.closed.clone();
    if let Some((from, holding)) = life.open
        && now > from
    {
        out.push(Interval {
            from,
            to: now,
            holding,
        });
    }
    out
}
