//! Reading manifest files for the offline commands.

use std::path::Path;

use mto_model::manifest::{Located, ManifestError, parse};

/// Every manifest in a file; errors are per document, so one bad document
/// does not hide the others.
pub fn read_manifests(path: &Path) -> Result<Vec<Result<Located, ManifestError>>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(parse(path, &text))
}
