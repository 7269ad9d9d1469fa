//! `mto history`: what the operator changed for a tenant, and why.

/// Reads a tenant's history from a journal file no operator holds open.
pub(crate) fn history_file(
    journal: &std::path::Path,
    tenant: &str,
) -> Result<Vec<mto_runtime::operator::journal::Entry>, String> {
    if !journal.exists() {
        return Err(format!(
            "{}: no journal here (fix: pass --journal, or --server to ask the running operator)",
            journal.display()
        ));
    }
    let journal = mto_runtime::operator::journal::Journal::open(journal).map_err(|e| {
        format!("{e} (fix: while the operator runs, ask it: --server http://127.0.0.1:8080)")
    })?;
    journal.history(tenant).map_err(|e| e.to_string())
}

/// Asks a running operator for a tenant's history (`GET /history/{tenant}`).
pub(crate) fn history_from(
    server: &str,
    tenant: &str,
) -> Result<Vec<mto_runtime::operator::journal::Entry>, String> {
    let body = mto_runtime::operator::serve::http_get(server, &format!("/history/{tenant}"))?;
    serde_json::from_str(&body).map_err(|e| format!("{server}: unexpected answer: {e}"))
}
