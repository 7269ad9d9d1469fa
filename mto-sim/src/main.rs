//! `mto-sim`: run a scenario on a simulated cluster.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mto_sim::scenario::{Scenario, duration_text};
use mto_sim::sim::{Report, Sim};

// The simulator interleaves long-lived objects with many short-lived
// decisions; mimalloc keeps that fast and compact where the system
// allocator fragments. Built without transparent huge pages (`no_thp`):
// the simulator's heap grows by hundreds of MB in one run, and zeroing a
// 2 MiB page on each first touch cost more time (1,000 faults, a fifth of
// a 10,000-tenant run) than the TLB saved.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Simulates what mto does to a cluster over days, with faults, in seconds.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and print its timeline and summary.
    Run {
        /// The scenario file (YAML).
        scenario: PathBuf,
        /// Seed of every random choice; the scenario's own by default.
        #[arg(long)]
        seed: Option<u64>,
        /// Simulate this long instead of the scenario's duration (e.g. 7d).
        #[arg(long, value_parser = duration_text::parse)]
        until: Option<std::time::Duration>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let Command::Run {
        scenario,
        seed,
        until,
        json,
    } = Cli::parse().command;
    let mut loaded = match Scenario::load(&scenario) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(until) = until {
        loaded.duration = until;
    }
    let seed = seed.unwrap_or(loaded.seed);
    let started = std::time::Instant::now();
    let bar = indicatif::ProgressBar::new(loaded.duration.as_secs());
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} simulated seconds ({elapsed})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut sim = Sim::new(loaded, seed);
    let result = sim.run(|done, _| bar.set_position(done.as_secs()));
    bar.finish_and_clear();
    // The process ends here: freeing a large cluster object by object would
    // take a tenth of the run, for memory the exit returns anyway.
    std::mem::forget(sim);
    let mut out = io::stdout().lock();
    let (written, code) = match (&result, json) {
        (Ok(report), true) => (write_json(&mut out, report), ExitCode::SUCCESS),
        (Ok(report), false) => (
            print_report(&mut out, report, started.elapsed()),
            ExitCode::SUCCESS,
        ),
        (Err(e), true) => (write_json(&mut out, e), ExitCode::FAILURE),
        (Err(e), false) => {
            eprintln!("{e}");
            (Ok(()), ExitCode::FAILURE)
        }
    };
    match written {
        // A reader that stopped early (`| head`) has what it wanted.
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            eprintln!("mto-sim: cannot write the report: {e}");
            ExitCode::FAILURE
        }
        _ => code,
    }
}

fn write_json(out: &mut impl Write, value: &impl serde::Serialize) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

fn print_report(out: &mut impl Write, r: &Report, wall: std::time::Duration) -> io::Result<()> {
    writeln!(
        out,
        "scenario {} (seed {}), {} simulated in {:.2?}",
        r.scenario, r.seed, r.simulated, wall
    )?;
    writeln!(out)?;
    for entry in &r.timeline {
        writeln!(out, "  {:>10}  {}", entry.at, entry.text)?;
    }
    writeln!(out)?;
    writeln!(out, "summary")?;
    writeln!(out, "  steps               {}", r.steps)?;
    writeln!(
        out,
        "  decisions           {} ({} reconciles skipped: tenant settled)",
        r.decisions, r.decisions_skipped
    )?;
    writeln!(out, "  API writes          {}", r.writes)?;
    writeln!(
        out,
        "  stale views         {} decisions made with changes still on their way",
        r.stale_decisions
    )?;
    if r.leader_changes > 0 {
        writeln!(
            out,
            "  leaders             {} times a replica took the lead, {} lease writes",
            r.leader_changes, r.lease_writes
        )?;
    }
    writeln!(out, "  objects created     {}", r.objects_created)?;
    writeln!(
        out,
        "  invariant checks    {} (none violated)",
        r.invariant_checks
    )?;
    let faults: Vec<String> = r.faults.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    writeln!(
        out,
        "  faults injected     {}",
        if faults.is_empty() {
            "none".into()
        } else {
            faults.join(", ")
        }
    )?;
    let phases: Vec<String> = r
        .tenants_by_phase
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    writeln!(out, "  tenants by phase    {}", phases.join(", "))?;
    // The Vault machine decides once for every IntegrationConfig, with or
    // without Vault in it: the line is for runs that talked to Vault.
    let vault_used = r.vault_writes + r.vault_reads + r.vault_failures > 0;
    if vault_used || !r.vault_objects.is_empty() {
        let held: Vec<String> = r
            .vault_objects
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        writeln!(
            out,
            "  vault               {} writes, {} readings, {} calls failed, {} decisions; holds {}",
            r.vault_writes,
            r.vault_reads,
            r.vault_failures,
            r.vault_decisions,
            if held.is_empty() {
                "nothing of mto's".into()
            } else {
                held.join(", ")
            }
        )?;
    }
    if r.supervisor_decisions > 0 {
        writeln!(
            out,
            "  hibernation         {} sleeps and wakes, {} supervisor decisions, {:.1} replica-hours saved",
            r.hibernation_transitions, r.supervisor_decisions, r.replica_hours_saved
        )?;
    }
    if !r.showback.is_empty() {
        let money = mto_model::showback::money;
        let (cost, saved) = r
            .showback
            .values()
            .fold((0, 0), |(c, s), t| (c + t.cost, s + t.saved));
        writeln!(
            out,
            "  showback            {} USD in all (requests at OpenCost's default prices), {} USD saved by hibernation",
            money(cost),
            money(saved)
        )?;
        for (tenant, t) in &r.showback {
            writeln!(
                out,
                "    {tenant:<24} {:>14} USD   saved {:>14} USD",
                money(t.cost),
                money(t.saved)
            )?;
        }
    }
    if r.instance_decisions > 0 {
        let phases: Vec<String> = r
            .instances_by_phase
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        writeln!(
            out,
            "  templates           {} objects deployed, {} instance decisions, {} chart renderings, instances {}",
            r.objects_deployed,
            r.instance_decisions,
            r.charts_rendered,
            phases.join(", ")
        )?;
    }
    if let Some(a) = &r.admission {
        let denied: Vec<String> = a.denied.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        writeln!(
            out,
            "  admission           {} requests: {} allowed, {} refused by no ready webhook{}{}",
            a.requests,
            a.allowed,
            a.unavailable,
            if denied.is_empty() {
                ""
            } else {
                ", denied by "
            },
            denied.join(", ")
        )?;
        writeln!(
            out,
            "  pods                {} started, {} over their namespace's quota, {} over the tenant's pooled quota ({} ledger and {} quota compare-and-swaps lost and retried)",
            a.pods_started,
            a.pods_over_namespace_quota,
            a.pods_over_tenant_quota,
            a.ledger_conflicts,
            a.quota_conflicts
        )?;
    }
    writeln!(out, "  trace hash          {}", r.trace_hash)?;
    if !r.convergence.is_empty() {
        writeln!(out)?;
        writeln!(out, "time to convergence")?;
        for c in &r.convergence {
            writeln!(out, "  {:>10}  {:>8}  {}", c.at, c.took, c.change)?;
        }
    }
    Ok(())
}
