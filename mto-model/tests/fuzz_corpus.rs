//! Replays the fuzz corpora in `fuzz/corpus/` as ordinary tests: every
//! file, as the bytes the fuzzer saw (a file that is not UTF-8 goes to the
//! target as it is, which must handle it), through the same function the
//! fuzz target calls.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .path();
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        run(&bytes);
        files += 1;
    }
    assert!(files > 0, "empty corpus {}", dir.display());
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

#[test]
fn schedule_corpus() {
    replay("schedule", mto_model::fuzzing::schedule);
}

#[test]
fn cluster_corpus() {
    replay("cluster", mto_model::fuzzing::cluster::run);
}

/// A corpus file that is not UTF-8 reaches a text target, which returns.
#[test]
fn bytes_that_are_not_utf8_reach_the_text_targets() {
    for run in [
        mto_model::fuzzing::manifest,
        mto_model::fuzzing::quantity,
        mto_model::fuzzing::cron,
    ] {
        run(&[0xff, 0xfe, b'1', b'G', b'i']);
    }
}

#[test]
fn admission_corpus() {
    replay("admission", mto_model::fuzzing::admission);
}
