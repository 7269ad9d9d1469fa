//! The bodies of the fuzz targets in `fuzz/`, here so their corpora also
//! run as ordinary tests (`tests/fuzz_corpus.rs`) without a nightly
//! toolchain.

use std::path::Path;

use crate::hibernation::schedule::Cron;
use crate::manifest::parse;
use crate::quantity::Quantity;

/// Reads `text` as manifests and validates each; must never panic.
pub fn manifest(text: &str) {
    for doc in parse(Path::new("fuzz.yaml"), text).into_iter().flatten() {
        let _ = doc.manifest.problems();
        if let crate::manifest::Manifest::Tenant(t) = &doc.manifest {
            let _ = crate::claims::requested_namespaces(t);
        }
    }
}

/// Parses `text` as a quantity; what parses must print and parse back to
/// the same value.
pub fn quantity(text: &str) {
    if let Ok(q) = Quantity::parse(text) {
        assert_eq!(
            Quantity::parse(&q.to_string()),
            Ok(q),
            "round trip of {text:?}"
        );
    }
}

/// Parses `text` as a 5-field cron expression; must never panic.
pub fn cron(text: &str) {
    let _ = Cron::parse(text);
}
