//! The CRDs as files: what `mto crds` prints and `deploy/crds/` holds.

use mto_model::api::crds;

/// `(file name, YAML)` for every CRD, file names `<plural>.<group>.yaml`.
pub fn render() -> Result<Vec<(String, String)>, serde_norway::Error> {
    crds()
        .into_iter()
        .map(|crd| {
            let name = format!("{}.yaml", crd.metadata.name.clone().unwrap_or_default());
            serde_norway::to_string(&crd).map(|yaml| (name, yaml))
        })
        .collect()
}
