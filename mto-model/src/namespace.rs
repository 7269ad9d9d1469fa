//! The namespace ownership machine.
//!
//! A namespace is Unclaimed until a tenant claims it (labels it). When the
//! tenant stops asking for it, or goes, the namespace is Releasing while mto
//! removes the access and quota it put there; then it is Released (kept,
//! unlabelled, annotated with the tenant it came from) or, only when the
//! tenant is deleted with `onDeletePurgeNamespaces` and mto created the
//! namespace itself, Purging and finally Purged.

use k8s_openapi::api::core::v1::Namespace;

use crate::labels::{RELEASED_FROM_ANNOTATION, TENANT_LABEL};
use crate::machine::Phase;

/// Where a namespace is in its ownership lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NamespacePhase {
    /// Absent, or present and never claimed.
    Unclaimed,
    /// Labelled for a tenant that asks for it.
    Claimed,
    /// Labelled for a tenant that no longer asks for it (or is going).
    Releasing,
    /// Kept after its tenant let it go.
    Released,
    /// Being deleted by mto on purge.
    Purging,
    /// Deleted.
    Purged,
}

impl Phase for NamespacePhase {
    const ALL: &'static [Self] = &[
        Self::Unclaimed,
        Self::Claimed,
        Self::Releasing,
        Self::Released,
        Self::Purging,
        Self::Purged,
    ];
    const INITIAL: Self = Self::Unclaimed;
    const TRANSITIONS: &'static [(Self, Self)] = &[
        (Self::Unclaimed, Self::Claimed),
        (Self::Claimed, Self::Releasing),
        (Self::Releasing, Self::Claimed),
        (Self::Releasing, Self::Released),
        (Self::Releasing, Self::Purging),
        (Self::Released, Self::Claimed),
        (Self::Purging, Self::Purged),
    ];

    fn is_resting(self) -> bool {
        matches!(
            self,
            Self::Unclaimed | Self::Claimed | Self::Released | Self::Purged
        )
    }

    fn name(self) -> &'static str {
        match self {
            Self::Unclaimed => "Unclaimed",
            Self::Claimed => "Claimed",
            Self::Releasing => "Releasing",
            Self::Released => "Released",
            Self::Purging => "Purging",
            Self::Purged => "Purged",
        }
    }
}

impl NamespacePhase {
    /// The phase of an observed namespace, given whether its labelled tenant
    /// still asks for it.
    #[must_use]
    pub fn observe(namespace: Option<&Namespace>, wanted_by_its_tenant: bool) -> NamespacePhase {
        let Some(ns) = namespace else {
            return NamespacePhase::Unclaimed;
        };
        if ns.metadata.deletion_timestamp.is_some() {
            return NamespacePhase::Purging;
        }
        let labelled = ns
            .metadata
            .labels
            .as_ref()
            .is_some_and(|l| l.contains_key(TENANT_LABEL));
        let released = ns
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(RELEASED_FROM_ANNOTATION));
        match (labelled, wanted_by_its_tenant, released) {
            (true, true, _) => NamespacePhase::Claimed,
            (true, false, _) => NamespacePhase::Releasing,
            (false, _, true) => NamespacePhase::Released,
            (false, _, false) => NamespacePhase::Unclaimed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sound() {
        crate::machine::assert_sound::<NamespacePhase>();
    }
}
