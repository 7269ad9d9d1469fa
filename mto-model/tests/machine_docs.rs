//! docs/machines.md is drawn from the transition tables in the code; this
//! test fails when the two disagree. Regenerate with
//! `MTO_BLESS=1 cargo test -p mto-model --test machine_docs`.

use std::path::Path;

use mto_model::hibernation::SupervisorPhase;
use mto_model::machine::{Phase, stuck, to_mermaid, unreachable};
use mto_model::namespace::NamespacePhase;
use mto_model::template::{GuardPhase, TemplatePhase};
use mto_model::tenant::TenantPhase;

fn section<P: Phase>(title: &str, about: &str) -> String {
    assert!(unreachable::<P>().is_empty() && stuck::<P>().is_empty());
    let mut out = format!(
        "## {title}\n\n{about}\n\n{}\n| from | to |\n|---|---|\n",
        to_mermaid::<P>()
    );
    for (from, to) in P::TRANSITIONS {
        out.push_str(&format!("| {} | {} |\n", from.name(), to.name()));
    }
    out.push('\n');
    out
}

fn render() -> String {
    let mut out = String::from(
        "# mto's machines\n\nGenerated from the `TRANSITIONS` tables in `mto-model` by \
         `mto-model/tests/machine_docs.rs`; do not edit by hand. Staying in a phase is always \
         allowed. Tests prove every phase is reachable from the initial one and every phase can \
         reach a resting one.\n\n",
    );
    out.push_str(&section::<TenantPhase>(
        "Tenant",
        "`mto_model::tenant::decide` reports the phase while its actions run (`Provisioning` when it writes) and writes the phase the tenant settles in to `status.phase`, last, so status never claims more than was done.",
    ));
    out.push_str(&section::<NamespacePhase>(
        "Namespace ownership",
        "A namespace is released (kept, unlabelled, annotated with the tenant it came from) when its tenant stops asking for it or is deleted; it is purged only when the tenant is deleted with `onDeletePurgeNamespaces` and mto created it.",
    ));
    out.push_str(&section::<SupervisorPhase>(
        "ResourceSupervisor (hibernation)",
        "`mto_model::hibernation::decide` scales workloads to zero with the count to restore written on the workload in the same write, and back; a workload created or scaled up while asleep sends the supervisor back through `sleeping`. `status.currentStatus` holds the phase the supervisor settles in.",
    ));
    out.push_str(&section::<TemplatePhase>(
        "Template instance (TemplateInstance, ClusterTemplateInstance, TemplateGroupInstance)",
        "`mto_model::template::decide` renders the Template for every target namespace first, then applies, in dependency order, only what is missing or (when `sync: true`) changed, and removes what is no longer wanted; a namespace whose rendering fails or where a foreign object is in the way gets nothing and keeps what it had (`Failed`, retried every 10 minutes; a Helm chart is rendered by the operator first, and the namespace waits in `Rendering` until it is). `Drifted` repairs what people changed under an unchanged rendering; `Rendering` puts a new one in place or waits for a kind to be listed. `status.phase` holds the phase, `status.status` MTO's `Deployed`/`Failed`.",
    ));
    out.push_str(&section::<GuardPhase>(
        "Template (deletion guard)",
        "`mto_model::template::guard` keeps the finalizer `tenantoperator.stakater.com/template-in-use` on a Template while instances that are not being deleted name it, and off while none does; a Template deleted while in use is `Held` (its `Deletable` condition names the instances) until the last goes, then `Released`. The admission webhook refuses such a delete outright.",
    ));
    out
}

#[test]
fn machine_docs_match_the_tables() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/machines.md");
    let expected = render();
    if std::env::var_os("MTO_BLESS").is_some() {
        std::fs::write(&path, &expected).expect("write docs/machines.md");
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "docs/machines.md is stale: run `MTO_BLESS=1 cargo test -p mto-model --test machine_docs`"
    );
}
