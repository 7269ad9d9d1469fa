//! Replays the fuzz corpora in `fuzz/corpus/` as ordinary tests.

use std::path::Path;

fn replay(target: &str, run: fn(&str)) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
    {
        let bytes = std::fs::read(entry.path()).unwrap_or_default();
        if let Ok(text) = std::str::from_utf8(&bytes) {
            run(text);
            count += 1;
        }
    }
    assert!(count > 0, "empty corpus {}", dir.display());
}

#[test]
fn manifest_corpus() {
    replay("manifest", mto_model::fuzzing::manifest);
}

#[test]
fn quantity_corpus() {
    replay("quantity", mto_model::fuzzing::quantity);
}

#[test]
fn cron_corpus() {
    replay("cron", mto_model::fuzzing::cron);
}
