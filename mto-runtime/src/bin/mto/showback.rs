//! `mto showback`: what workloads cost, as a table, CSV or JSON.

use std::path::PathBuf;
use std::sync::Arc;

use clap::ValueEnum;

/// `mto showback`.
#[derive(clap::Args)]
pub(crate) struct ShowbackArgs {
    /// `24h`, `7d`, `30d`, `today`, `yesterday`, `week`, `lastweek`,
    /// `month`, `lastmonth`, or `START,END` (Unix seconds or RFC 3339).
    #[arg(long, default_value = "30d")]
    window: String,
    /// `tenant`, `namespace`, `pod`, `container` or `label:NAME`.
    #[arg(long, default_value = "tenant")]
    aggregate: String,
    /// A set per step (`1d`, `24h`); one for the window without.
    #[arg(long)]
    step: Option<String>,
    /// Share the cluster's idle cost over the groups by their cost.
    #[arg(long)]
    share_idle: bool,
    /// Only this tenant's workloads.
    #[arg(long)]
    tenant: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ShowbackFormat::Table)]
    format: ShowbackFormat,
    /// The journal file holding the records (when no operator holds it open).
    #[arg(long, env = "MTO_JOURNAL", default_value = "/var/lib/mto/journal.redb")]
    journal: PathBuf,
    /// Read the records from PostgreSQL instead (`mto run --store`).
    #[arg(long, env = "MTO_STORE_URL", conflicts_with = "server")]
    store: Option<String>,
    /// Ask a running API gateway instead (`https://mto.example.com`),
    /// with the bearer token in MTO_TOKEN.
    #[arg(long)]
    server: Option<String>,
    /// The gateway's bearer token (an OpenID Connect access token).
    #[arg(long, env = "MTO_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ShowbackFormat {
    Table,
    Csv,
    Json,
}

/// `mto showback`: the report from the store, the journal file or a
/// gateway, as a table, CSV or OpenCost's JSON.
pub(crate) async fn showback(args: ShowbackArgs) -> Result<String, String> {
    use mto_model::showback::{money, to_csv, to_opencost_response};
    use mto_runtime::showback::{AllocationParams, allocation_report};
    use mto_runtime::store::{AnyStore, Embedded, Postgres};

    let params = AllocationParams {
        window: Some(args.window.clone()),
        aggregate: Some(args.aggregate.clone()),
        step: args.step.clone(),
        accumulate: Some(args.step.is_none()),
        share_idle: Some(args.share_idle),
        format: None,
        tenant: args.tenant.clone(),
    };
    if let Some(server) = &args.server {
        let format = match args.format {
            ShowbackFormat::Csv => "csv",
            _ => "json",
        };
        let mut query = vec![
            ("window", args.window.clone()),
            ("aggregate", args.aggregate.clone()),
            ("shareIdle", args.share_idle.to_string()),
            ("format", format.to_owned()),
        ];
        query.extend(args.step.clone().map(|s| ("step", s)));
        query.extend(args.tenant.clone().map(|t| ("tenant", t)));
        let mut request = reqwest::Client::new()
            .get(format!(
                "{}/api/v1/allocation",
                server.trim_end_matches('/')
            ))
            .query(&query);
        if let Some(token) = &args.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| format!("{server}: {e}"))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| format!("{server}: {e}"))?;
        if !status.is_success() {
            return Err(format!("{server}: {status}: {body}"));
        }
        return Ok(match args.format {
            ShowbackFormat::Table => table_of_opencost(&body)?,
            _ => body,
        });
    }
    let store = match &args.store {
        Some(url) => AnyStore::Postgres(Box::new(
            Postgres::connect(url)
                .await
                .map_err(|e| format!("--store: {e}"))?,
        )),
        None => {
            if !args.journal.exists() {
                return Err(format!(
                    "{}: no journal here (give --journal, --store or --server)",
                    args.journal.display()
                ));
            }
            let journal = mto_runtime::operator::journal::Journal::open(&args.journal)
                .map_err(|e| e.to_string())?;
            AnyStore::Embedded(Embedded(Arc::new(journal)))
        }
    };
    let now = mto_model::Timestamp::now().as_second();
    let sets = allocation_report(&store, &params, now, None)
        .await
        .map_err(|e| e.to_string())?;
    Ok(match args.format {
        ShowbackFormat::Csv => to_csv(&sets),
        ShowbackFormat::Json => format!("{:#}\n", to_opencost_response(&sets)),
        ShowbackFormat::Table => {
            let mut out = String::new();
            for set in &sets {
                let rows: Vec<(String, [String; 6])> = set
                    .groups
                    .iter()
                    .map(|(name, a)| {
                        (
                            name.clone(),
                            [
                                a.cost.cpu,
                                a.cost.ram,
                                a.cost.gpu,
                                a.cost.pv,
                                a.idle,
                                a.total(),
                            ]
                            .map(money),
                        )
                    })
                    .collect();
                out.push_str(&cost_table(set.start, set.end, &rows));
            }
            out
        }
    })
}

/// One set of a report as a table: a line per group, costs right-aligned.
fn cost_table(start: i64, end: i64, rows: &[(String, [String; 6])]) -> String {
    use std::fmt::Write as _;
    let time = |t: i64| {
        mto_model::Timestamp::from_second(t).map_or_else(|_| t.to_string(), |t| t.to_string())
    };
    let mut out = format!("{} – {}\n", time(start), time(end));
    if rows.is_empty() {
        out.push_str("  no costs recorded in this window\n");
        return out;
    }
    let width = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(4).max(4);
    let _ = writeln!(
        out,
        "  {:<width$}  {:>12}  {:>12}  {:>12}  {:>12}  {:>12}  {:>12}",
        "NAME", "CPU", "RAM", "GPU", "PV", "IDLE", "TOTAL"
    );
    for (name, costs) in rows {
        let _ = write!(out, "  {name:<width$}");
        for c in costs {
            let _ = write!(out, "  {c:>12}");
        }
        out.push('\n');
    }
    out
}

/// A gateway's OpenCost JSON as [`cost_table`]s.
fn table_of_opencost(body: &str) -> Result<String, String> {
    let value: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("unexpected answer: {e}"))?;
    let mut out = String::new();
    for set in value["data"].as_array().into_iter().flatten() {
        let Some(groups) = set.as_object() else {
            continue;
        };
        let instant = |v: &serde_json::Value| {
            v.as_str()
                .and_then(|s| s.parse::<mto_model::Timestamp>().ok())
                .map_or(0, |t| t.as_second())
        };
        let (mut start, mut end) = (0, 0);
        let rows: Vec<(String, [String; 6])> = groups
            .iter()
            .map(|(name, a)| {
                start = instant(&a["start"]);
                end = instant(&a["end"]);
                let cost = |field: &str| format!("{:.6}", a[field].as_f64().unwrap_or(0.0));
                (
                    name.clone(),
                    [
                        "cpuCost",
                        "ramCost",
                        "gpuCost",
                        "pvCost",
                        "sharedCost",
                        "totalCost",
                    ]
                    .map(cost),
                )
            })
            .collect();
        out.push_str(&cost_table(start, end, &rows));
    }
    Ok(out)
}
