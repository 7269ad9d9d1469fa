//! The integration config, compiled once for fast, repeated use by every
//! tenant decision.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use regex::RegexSet;

use crate::api::{IntegrationConfig, Metadata, RoleClusterRoles, TenantRoleSet};
use crate::validation::{Validate, ValidationErrors};

/// Namespaces no tenant may ever claim, whatever the integration config says.
pub const RESERVED_NAMESPACES: [&str; 4] =
    ["default", "kube-system", "kube-public", "kube-node-lease"];

/// The three tenant roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TenantRole {
    /// Full control of the tenant's namespaces.
    Owner,
    /// Read and write.
    Editor,
    /// Read only.
    Viewer,
}

impl TenantRole {
    /// All roles, most powerful first.
    pub const ALL: [TenantRole; 3] = [TenantRole::Owner, TenantRole::Editor, TenantRole::Viewer];

    /// `owner`, `editor`, `viewer`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            TenantRole::Owner => "owner",
            TenantRole::Editor => "editor",
            TenantRole::Viewer => "viewer",
        }
    }
}

/// Cluster roles bound for each tenant role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleSet {
    /// Cluster roles for owners.
    pub owner: Vec<String>,
    /// Cluster roles for editors.
    pub editor: Vec<String>,
    /// Cluster roles for viewers.
    pub viewer: Vec<String>,
}

impl RoleSet {
    /// The cluster roles of one tenant role.
    #[must_use]
    pub fn for_role(&self, role: TenantRole) -> &[String] {
        match role {
            TenantRole::Owner => &self.owner,
            TenantRole::Editor => &self.editor,
            TenantRole::Viewer => &self.viewer,
        }
    }

    fn overlay(
        base: &RoleSet,
        owner: &Option<RoleClusterRoles>,
        editor: &Option<RoleClusterRoles>,
        viewer: &Option<RoleClusterRoles>,
    ) -> RoleSet {
        let pick = |o: &Option<RoleClusterRoles>, fallback: &Vec<String>| {
            o.as_ref()
                .map_or_else(|| fallback.clone(), |r| r.cluster_roles.clone())
        };
        RoleSet {
            owner: pick(owner, &base.owner),
            editor: pick(editor, &base.editor),
            viewer: pick(viewer, &base.viewer),
        }
    }
}

impl Default for RoleSet {
    /// owner → admin, editor → edit, viewer → view.
    fn default() -> Self {
        RoleSet {
            owner: vec!["admin".into()],
            editor: vec!["edit".into()],
            viewer: vec!["view".into()],
        }
    }
}

/// A validated, compiled integration config.
#[derive(Clone, Debug, Default)]
pub struct Integration {
    privileged_namespaces: Option<RegexSet>,
    privileged_subjects: Option<RegexSet>,
    default_roles: RoleSet,
    custom_roles: Vec<(LabelSelector, RoleSet)>,
    /// Metadata for every tenant namespace except sandboxes.
    pub namespace_metadata: Metadata,
    /// Metadata for sandboxes.
    pub sandbox_metadata: Metadata,
}

impl Integration {
    /// Compiles a config; `None` gives the defaults.
    pub fn compile(config: Option<&IntegrationConfig>) -> Result<Integration, ValidationErrors> {
        let Some(config) = config else {
            return Ok(Integration::default());
        };
        config.validate()?;
        let spec = &config.spec;
        let ac = spec.access_control.clone().unwrap_or_default();
        let roles = ac.rbac.and_then(|r| r.tenant_roles).unwrap_or_default();
        let default_roles =
            roles
                .default
                .as_ref()
                .map_or_else(RoleSet::default, |d: &TenantRoleSet| {
                    RoleSet::overlay(&RoleSet::default(), &d.owner, &d.editor, &d.viewer)
                });
        let custom_roles = roles
            .custom
            .iter()
            .map(|c| {
                (
                    c.label_selector.clone(),
                    RoleSet::overlay(&default_roles, &c.owner, &c.editor, &c.viewer),
                )
            })
            .collect();
        let privileged = ac.privileged.unwrap_or_default();
        // Validation has compiled every pattern already.
        let set = |patterns: Vec<String>| {
            (!patterns.is_empty())
                .then(|| RegexSet::new(patterns).ok())
                .flatten()
        };
        let subjects: Vec<String> = privileged
            .users
            .into_iter()
            .chain(privileged.groups)
            .chain(privileged.service_accounts)
            .collect();
        let metadata = spec.metadata.clone().unwrap_or_default();
        Ok(Integration {
            privileged_namespaces: set(privileged.namespaces),
            privileged_subjects: set(subjects),
            default_roles,
            custom_roles,
            namespace_metadata: metadata.namespaces.unwrap_or_default(),
            sandbox_metadata: metadata.sandboxes.unwrap_or_default(),
        })
    }

    /// Whether no tenant may claim `namespace`.
    #[must_use]
    pub fn is_privileged_namespace(&self, namespace: &str) -> bool {
        RESERVED_NAMESPACES.contains(&namespace)
            || self
                .privileged_namespaces
                .as_ref()
                .is_some_and(|s| s.is_match(namespace))
    }

    /// Whether a user, group or service account is privileged.
    #[must_use]
    pub fn is_privileged_subject(&self, subject: &str) -> bool {
        self.privileged_subjects
            .as_ref()
            .is_some_and(|s| s.is_match(subject))
    }

    /// The cluster roles for a namespace with these labels: the first custom
    /// entry whose selector matches, else the defaults.
    #[must_use]
    pub fn roles_for(&self, labels: &BTreeMap<String, String>) -> &RoleSet {
        self.custom_roles
            .iter()
            .find(|(sel, _)| crate::selector::matches(sel, Some(labels)))
            .map_or(&self.default_roles, |(_, roles)| roles)
    }
}
