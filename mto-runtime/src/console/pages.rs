//! The console's pages: one function per page, from what the gateway's
//! handlers computed. maud escapes every value it is given.

use maud::{DOCTYPE, Markup, html};
use mto_model::quantity::Quantity;
use mto_model::showback::{Set, money};

use super::Visitor;
use crate::gateway::api::{
    AuditView, HistoryEntry, InstancePage, Problem, QuotaPage, QuotaUse, SupervisorPage,
    TemplatePage, TenantDetail, TenantPage,
};

/// What a write said, shown above the page.
pub(super) enum Said {
    /// It was done.
    Done(String),
    /// It was refused, and why.
    Refused(String),
}

/// Plain text, escaped.
pub(super) fn text(t: &str) -> Markup {
    html! { p { (t) } }
}

fn head(title: &str) -> Markup {
    html! {
        (DOCTYPE)
        meta charset="utf-8";
        meta name="viewport" content="width=device-width, initial-scale=1";
        title { (title) " · mto" }
        link rel="stylesheet" href="/console/style.css";
    }
}

/// A page without a session (sign-in problems).
pub(super) fn message(title: &str, text: &str) -> String {
    html! {
        (head(title))
        body {
            main.narrow {
                h1 { (title) }
                p { (text) }
                p { a href="/console/login" { "Sign in" } }
            }
        }
    }
    .into_string()
}

/// A page of the console: the navigation, who is signed in, the body.
pub(super) fn page(v: &Visitor, title: &str, active: &str, body: Markup) -> String {
    let admin = v.caller.access.is_admin();
    let nav = [
        ("dashboard", "/console/", "Dashboard"),
        ("tenants", "/console/tenants", "Tenants"),
        ("quotas", "/console/quotas", "Quotas"),
        ("hibernation", "/console/hibernation", "Hibernation"),
        ("templates", "/console/templates", "Templates"),
        ("cost", "/console/cost", "Cost"),
    ];
    html! {
        (head(title))
        body {
            header {
                a.brand href="/console/" { "mto" }
                nav {
                    @for (id, href, label) in nav {
                        a href=(href) class=[(id == active).then_some("active")] { (label) }
                    }
                    @if admin {
                        a href="/console/audit" class=[("audit" == active).then_some("active")] { "Audit" }
                    }
                }
                div.who {
                    span.user { (v.caller.principal.user) @if admin { " · admin" } }
                    form method="post" action="/console/logout" {
                        input type="hidden" name="csrf" value=(v.session.csrf);
                        button.link type="submit" { "Sign out" }
                    }
                }
            }
            main {
                h1 { (title) }
                (body)
            }
        }
    }
    .into_string()
}

fn role(v: &Visitor, tenant: &str) -> String {
    if v.caller.access.is_admin() {
        "admin".into()
    } else {
        v.caller
            .access
            .role(tenant)
            .map_or_else(String::new, |r| r.name().to_owned())
    }
}

/// How much of `hard` is `used`, 0 to 100.
fn percent(used: Option<&String>, hard: &str) -> u32 {
    let parse = |t: &str| Quantity::parse(t).map(|q| q.nanos()).unwrap_or(0);
    let hard = parse(hard);
    let used = used.map_or(0, |u| parse(u));
    if hard <= 0 {
        return 0;
    }
    u32::try_from((used.saturating_mul(100) / hard).clamp(0, 100)).unwrap_or(100)
}

fn quota_bars(q: &QuotaUse) -> Markup {
    html! {
        @if q.hard.is_empty() {
            p.muted { "No quota." }
        } @else {
            table.quota {
                @for (resource, hard) in &q.hard {
                    @let used = q.used.get(resource);
                    @let p = percent(used, hard);
                    tr {
                        th { (resource) }
                        td.bar {
                            div.track { div.fill class=[(p >= 90).then_some("hot")] style=(format!("width:{p}%")) {} }
                        }
                        td.num { (used.map_or("0", String::as_str)) " / " (hard) }
                    }
                }
            }
        }
    }
}

/// The dashboard: tenants, namespaces, quota use, what is asleep.
pub(super) fn dashboard(
    v: &Visitor,
    tenants: &TenantPage,
    supervisors: &SupervisorPage,
    quotas: &[TenantDetail],
    trend: Option<&[Set]>,
) -> String {
    let namespaces: usize = tenants.items.iter().map(|t| t.namespaces.len()).sum();
    let asleep: Vec<_> = supervisors
        .items
        .iter()
        .filter(|s| !s.sleeping.is_empty())
        .collect();
    let body = html! {
        div.cards {
            div.card { div.big { (tenants.total) } div { "tenants" } }
            div.card { div.big { (namespaces) } div { "namespaces" } }
            div.card { div.big { (supervisors.total) } div { "supervisors" } }
            div.card { div.big { (asleep.len()) } div { "asleep now" } }
        }
        @if let Some(days) = trend.filter(|d| d.iter().any(|s| !s.groups.is_empty())) {
            h2 { "Cost, last 7 days" }
            (chart(days))
            p { a href="/console/cost" { "Cost by tenant, namespace or pod" } }
        }
        h2 { "Quota use" }
        @if quotas.is_empty() {
            p.muted { "You are not a member of any tenant yet." }
        }
        div.grid {
            @for d in quotas {
                section.tile {
                    h3 { a href=(format!("/console/tenants/{}", d.summary.name)) { (d.summary.name) } }
                    p.muted { (d.summary.phase.as_deref().unwrap_or("Pending")) " · " (d.summary.namespaces.len()) " namespaces" }
                    (quota_bars(&d.quota_use))
                }
            }
        }
        h2 { "Asleep" }
        @if asleep.is_empty() { p.muted { "Nothing is asleep." } }
        ul {
            @for s in &asleep {
                li { (s.key) ": " (s.sleeping.len()) " workloads" }
            }
        }
    };
    page(v, "Dashboard", "dashboard", body)
}

/// The tenants the visitor may see.
pub(super) fn tenants(v: &Visitor, page_: &TenantPage, q: Option<&str>) -> String {
    let body = html! {
        form.filter method="get" {
            input type="search" name="q" placeholder="Filter by name" value=[q];
            button type="submit" { "Filter" }
            @if v.caller.access.is_admin() { a.button href="/console/new/tenant" { "New tenant" } }
        }
        table.list {
            thead { tr { th { "Tenant" } th { "Phase" } th { "Namespaces" } th { "Quota" } th { "Your role" } } }
            tbody {
                @for t in &page_.items {
                    tr {
                        td { a href=(format!("/console/tenants/{}", t.name)) { (t.name) } }
                        td { span.phase { (t.phase.as_deref().unwrap_or("Pending")) } }
                        td { (t.namespaces.len()) }
                        td { (t.quota.as_deref().unwrap_or("—")) }
                        td { (role(v, &t.name)) }
                    }
                }
            }
        }
        p.muted { (page_.total) " tenants" }
    };
    page(v, "Tenants", "tenants", body)
}

fn subjects(access: &serde_json::Value, role: &str) -> Vec<String> {
    let part = &access[role];
    ["users", "groups"]
        .iter()
        .flat_map(|kind| {
            part[*kind]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str())
                .map(move |s| format!("{} {s}", kind.trim_end_matches('s')))
        })
        .collect()
}

/// One tenant: its namespaces and who may use them (a tree), quota in all
/// and per namespace, its YAML, and what mto changed.
pub(super) fn tenant(v: &Visitor, d: &TenantDetail, history: &[HistoryEntry]) -> String {
    let roles = ["owners", "editors", "viewers"];
    let yaml = serde_norway::to_string(&serde_json::json!({
        "apiVersion": "tenantoperator.stakater.com/v1beta3",
        "kind": "Tenant",
        "metadata": {"name": d.summary.name},
        "spec": d.spec,
    }))
    .unwrap_or_default();
    let body = html! {
        p.muted {
            span.phase { (d.summary.phase.as_deref().unwrap_or("Pending")) }
            " · your role: " (role(v, &d.summary.name))
            @if let Some(q) = &d.summary.quota { " · quota " (q) }
            @if v.caller.access.is_admin() {
                " · " a href=(format!("/console/tenants/{}/edit", d.summary.name)) { "Edit" }
            }
        }
        h2 { "Namespaces and access" }
        ul.tree {
            li {
                strong { "tenant " (d.summary.name) }
                ul {
                    @for ns in &d.summary.namespaces {
                        li {
                            "namespace " code { (ns) }
                            ul {
                                @for r in roles {
                                    @for s in subjects(&d.access_control, r) {
                                        li.binding { (r.trim_end_matches('s')) ": " (s) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Quota, all namespaces" }
        (quota_bars(&d.quota_use))
        h2 { "Quota per namespace" }
        @for nq in &d.namespace_quotas {
            h3 { code { (nq.namespace) } }
            (quota_bars(&nq.quota))
        }
        h2 { "YAML" }
        pre.yaml { (yaml) }
        h2 { "History" }
        @if history.is_empty() { p.muted { "Nothing recorded." } }
        ol.history {
            @for h in history.iter().rev().take(50) {
                li {
                    span.when { (h.at) } " " (h.from) " → " (h.to)
                    @if !h.actions.is_empty() { ul { @for a in &h.actions { li { code { (a) } } } } }
                    @if let Some(e) = &h.error { p.error { (e) } }
                }
            }
        }
    };
    page(v, &format!("Tenant {}", d.summary.name), "tenants", body)
}

/// The supervisors, with wake and sleep now where the visitor may.
pub(super) fn hibernation(v: &Visitor, page_: &SupervisorPage, said: Option<Said>) -> String {
    let body = html! {
        @match said {
            Some(Said::Done(t)) => p.notice { (t) },
            Some(Said::Refused(t)) => p.error { (t) },
            None => {},
        }
        table.list {
            thead { tr { th { "Supervisor" } th { "State" } th { "Next change" } th { "Asleep" } th {} } }
            tbody {
                @for s in &page_.items {
                    tr {
                        td { (s.key) @if let Some(o) = &s.manual_override { " " span.tag { "override: " (o) } } }
                        td { (s.phase.as_deref().unwrap_or("—")) }
                        td { (s.next_transition.as_deref().unwrap_or("—")) }
                        td { (s.sleeping.len()) }
                        td.actions {
                            @if let Some(ns) = &s.namespace {
                                @for action in ["wake", "sleep"] {
                                    form method="post" action=(format!("/console/supervisors/{ns}/{}/{action}", s.name)) {
                                        input type="hidden" name="csrf" value=(v.session.csrf);
                                        button type="submit" { (action) " now" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if page_.items.is_empty() { p.muted { "No supervisors in your tenants." } }
    };
    page(v, "Hibernation", "hibernation", body)
}

/// Templates and their instances.
pub(super) fn templates(v: &Visitor, templates: &TemplatePage, instances: &InstancePage) -> String {
    let body = html! {
        h2 { "Templates" }
        table.list {
            thead { tr { th { "Template" } th { "Manifests" } th { "Chart" } th { "Parameters" } th { "Phase" } } }
            tbody {
                @for t in &templates.items {
                    tr {
                        td { (t.name) }
                        td { (t.manifests) }
                        td { (t.chart.as_deref().unwrap_or("—")) }
                        td { @for p in &t.parameters { code { (p.name) } @if p.required { "*" } " " } }
                        td { (t.phase.as_deref().unwrap_or("—")) }
                    }
                }
            }
        }
        h2 { "Instances" }
        table.list {
            thead { tr { th { "Instance" } th { "Template" } th { "Status" } th { "Namespaces" } } }
            tbody {
                @for i in &instances.items {
                    tr {
                        td { (i.key) }
                        td { (i.template) }
                        td { (i.status.as_deref().unwrap_or("—")) @if let Some(m) = &i.message { p.error { (m) } } }
                        td { (i.deployed_namespaces.len()) }
                    }
                }
            }
        }
    };
    page(v, "Templates", "templates", body)
}

/// Daily totals as bars, in an inline SVG.
fn chart(sets: &[Set]) -> Markup {
    let totals: Vec<(i64, i64)> = sets
        .iter()
        .map(|s| (s.start, s.groups.values().map(|a| a.total()).sum()))
        .collect();
    let top = totals.iter().map(|(_, t)| *t).max().unwrap_or(0).max(1);
    let width = 40 * totals.len().max(1);
    html! {
        svg.chart viewBox=(format!("0 0 {width} 120")) role="img" aria-label="Cost per day" {
            @for (i, (start, total)) in totals.iter().enumerate() {
                @let h = (100 * total / top).max(1);
                @let day = mto_model::Timestamp::from_second(*start).map(|t| t.to_string()).unwrap_or_default();
                rect x=(40 * i + 6) y=(105 - h) width="28" height=(h) {
                    title { (day.get(..10).unwrap_or("")) ": " (money(*total)) }
                }
                text x=(40 * i + 20) y="118" text-anchor="middle" { (day.get(8..10).unwrap_or("")) }
            }
        }
    }
}

/// What the cost page shows.
pub(super) struct CostChoice<'a> {
    /// The window (`7d`, `month`, …).
    pub(super) window: &'a str,
    /// `tenant`, `namespace` or `pod`.
    pub(super) aggregate: &'a str,
    /// One tenant only.
    pub(super) tenant: Option<&'a str>,
    /// The tenants to choose from.
    pub(super) tenants: &'a [String],
}

/// Cost per tenant (or namespace, pod) over a window, by day.
pub(super) fn cost(v: &Visitor, choice: &CostChoice<'_>, sets: Result<Vec<Set>, String>) -> String {
    let (window, aggregate) = (choice.window, choice.aggregate);
    let only = choice
        .tenant
        .map(|t| format!("&tenant={t}"))
        .unwrap_or_default();
    let csv = format!(
        "/api/v1/allocation?window={window}&aggregate={aggregate}&accumulate=true&format=csv{only}"
    );
    // Each group over the window: CPU, memory, GPU and volumes, total.
    let mut totals: std::collections::BTreeMap<&str, [i64; 4]> = std::collections::BTreeMap::new();
    for set in sets.iter().flatten() {
        for (name, a) in &set.groups {
            let t = totals.entry(name.as_str()).or_default();
            t[0] += a.cost.cpu;
            t[1] += a.cost.ram;
            t[2] += a.cost.gpu + a.cost.pv;
            t[3] += a.total();
        }
    }
    let body = html! {
        form.filter method="get" {
            select name="window" {
                @for w in ["today", "yesterday", "7d", "30d", "month", "lastmonth"] {
                    option value=(w) selected[w == window] { (w) }
                }
            }
            select name="aggregate" {
                @for a in ["tenant", "namespace", "pod"] {
                    option value=(a) selected[a == aggregate] { "by " (a) }
                }
            }
            select name="tenant" {
                option value="" selected[choice.tenant.is_none()] { "every tenant" }
                @for t in choice.tenants {
                    option value=(t) selected[choice.tenant == Some(t.as_str())] { (t) }
                }
            }
            button type="submit" { "Show" }
            a.button href=(csv) { "CSV" }
        }
        @match &sets {
            Err(e) => p.error { (e) },
            Ok(sets) => {
                (chart(sets))
                table.list {
                    thead { tr { th { (aggregate) } th.num { "CPU" } th.num { "Memory" } th.num { "GPU and volumes" } th.num { "Total" } } }
                    tbody {
                        @for (name, [cpu, ram, other, total]) in &totals {
                            tr { td { (name) } td.num { (money(*cpu)) } td.num { (money(*ram)) } td.num { (money(*other)) } td.num { strong { (money(*total)) } } }
                        }
                    }
                }
                @if totals.is_empty() { p.muted { "No costs recorded in this window (showback runs with mto run --showback)." } }
            }
        }
    };
    page(v, "Cost", "cost", body)
}

/// A manifest editor: the YAML, and what `mto validate` said of it.
pub(super) fn editor(v: &Visitor, action: &str, yaml: &str, problem: Option<&Problem>) -> Markup {
    html! {
        @if let Some(p) = problem {
            div.error {
                p { (p.message) }
                @if !p.problems.is_empty() { ul { @for line in &p.problems { li { code { (line) } } } } }
            }
        }
        form.editor method="post" action=(action) {
            input type="hidden" name="csrf" value=(v.session.csrf);
            textarea name="yaml" rows="22" spellcheck="false" { (yaml) }
            div { button type="submit" { "Save" } " " a href="javascript:history.back()" { "Cancel" } }
        }
        p.muted { "Checked with the rules of " code { "mto validate" } ", then written as you, so the cluster's RBAC and mto's admission decide." }
    }
}

/// The Quotas.
pub(super) fn quotas(v: &Visitor, page_: &QuotaPage) -> String {
    let admin = v.caller.access.is_admin();
    let body = html! {
        @if admin { p { a.button href="/console/new/quota" { "New quota" } } }
        table.list {
            thead { tr { th { "Quota" } th { "Each namespace may use" } th { "Tenants" } @if admin { th {} } } }
            tbody {
                @for q in &page_.items {
                    tr {
                        td { (q.name) }
                        td { @for (resource, hard) in &q.hard { code { (resource) ": " (hard) } " " } }
                        td { (q.tenants.join(", ")) }
                        @if admin { td { a href=(format!("/console/quotas/{}/edit", q.name)) { "Edit" } } }
                    }
                }
            }
        }
        @if page_.items.is_empty() { p.muted { "No quotas you may see." } }
    };
    page(v, "Quotas", "quotas", body)
}

/// The writes made through the gateway (admins).
pub(super) fn audit(v: &Visitor, entries: &[AuditView]) -> String {
    let body = html! {
        table.list {
            thead { tr { th { "When" } th { "Who" } th { "What" } th { "On" } th { "Outcome" } } }
            tbody {
                @for e in entries {
                    tr { td { (e.at) } td { (e.user) } td { (e.action) } td { code { (e.object) } } td { (e.outcome) } }
                }
            }
        }
    };
    page(v, "Audit log", "audit", body)
}
