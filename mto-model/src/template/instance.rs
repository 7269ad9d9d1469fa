//! The three kinds of template instance, seen as one.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use crate::api::{
    ClusterTemplateInstance, TemplateGroupInstance, TemplateInstance, TemplateInstanceStatus,
    TemplateParameter,
};
use crate::view::{InstanceId, Object, Snapshot};

/// A TemplateInstance, ClusterTemplateInstance or TemplateGroupInstance.
#[derive(Clone, Copy, Debug)]
pub enum Instance<'a> {
    /// One namespace: its own.
    Namespaced(&'a TemplateInstance),
    /// The namespaces its selector matches.
    Cluster(&'a ClusterTemplateInstance),
    /// The same, by the older name.
    Group(&'a TemplateGroupInstance),
}

impl<'a> Instance<'a> {
    /// The instance `id` names, if the snapshot holds it.
    #[must_use]
    pub fn find(snapshot: &'a Snapshot, id: &InstanceId) -> Option<Instance<'a>> {
        match id {
            InstanceId::Namespaced { namespace, name } => {
                snapshot.get(namespace, name).map(Instance::Namespaced)
            }
            InstanceId::Cluster { name } => snapshot.get("", name).map(Instance::Cluster),
            InstanceId::Group { name } => snapshot.get("", name).map(Instance::Group),
        }
    }

    /// Which instance.
    #[must_use]
    pub fn id(&self) -> InstanceId {
        let name = self.meta().name.clone().unwrap_or_default();
        match self {
            Instance::Namespaced(i) => InstanceId::Namespaced {
                namespace: i.metadata.namespace.clone().unwrap_or_default(),
                name,
            },
            Instance::Cluster(_) => InstanceId::Cluster { name },
            Instance::Group(_) => InstanceId::Group { name },
        }
    }

    /// Its metadata.
    #[must_use]
    pub fn meta(&self) -> &'a ObjectMeta {
        match self {
            Instance::Namespaced(i) => &i.metadata,
            Instance::Cluster(i) => &i.metadata,
            Instance::Group(i) => &i.metadata,
        }
    }

    /// The name of its Template.
    #[must_use]
    pub fn template(&self) -> &'a str {
        match self {
            Instance::Namespaced(i) => &i.spec.template,
            Instance::Cluster(i) => &i.spec.template,
            Instance::Group(i) => &i.spec.template,
        }
    }

    /// Whether it keeps what it deployed in sync.
    #[must_use]
    pub fn sync(&self) -> bool {
        match self {
            Instance::Namespaced(i) => i.spec.sync,
            Instance::Cluster(i) => i.spec.sync,
            Instance::Group(i) => i.spec.sync,
        }
    }

    /// Its parameter values.
    #[must_use]
    pub fn parameters(&self) -> &'a [TemplateParameter] {
        match self {
            Instance::Namespaced(i) => &i.spec.parameters,
            Instance::Cluster(i) => &i.spec.parameters,
            Instance::Group(i) => &i.spec.parameters,
        }
    }

    /// The selector of a cluster instance; `None` for a TemplateInstance.
    #[must_use]
    pub fn selector(&self) -> Option<&'a LabelSelector> {
        match self {
            Instance::Namespaced(_) => None,
            Instance::Cluster(i) => Some(&i.spec.selector),
            Instance::Group(i) => Some(&i.spec.selector),
        }
    }

    /// Its status as recorded.
    #[must_use]
    pub fn status(&self) -> Option<&'a TemplateInstanceStatus> {
        match self {
            Instance::Namespaced(i) => i.status.as_ref(),
            Instance::Cluster(i) => i.status.as_ref(),
            Instance::Group(i) => i.status.as_ref(),
        }
    }

    /// The object to apply for a status write: its name and `status`.
    #[must_use]
    pub fn with_status(&self, status: TemplateInstanceStatus) -> Object {
        let metadata = ObjectMeta {
            name: self.meta().name.clone(),
            namespace: self.meta().namespace.clone(),
            ..ObjectMeta::default()
        };
        match self {
            Instance::Namespaced(i) => TemplateInstance {
                metadata,
                spec: i.spec.clone(),
                status: Some(status),
            }
            .into(),
            Instance::Cluster(i) => ClusterTemplateInstance {
                metadata,
                spec: i.spec.clone(),
                status: Some(status),
            }
            .into(),
            Instance::Group(i) => TemplateGroupInstance {
                metadata,
                spec: i.spec.clone(),
                status: Some(status),
            }
            .into(),
        }
    }
}
