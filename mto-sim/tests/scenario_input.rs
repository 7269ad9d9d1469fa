//! Bad scenario files are refused with the file named, never with a panic:
//! every shipped scenario, damaged at random, parses or is refused.

use std::path::{Path, PathBuf};

use mto_sim::scenario::Scenario;
use proptest::prelude::*;

fn shipped() -> Vec<(PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut found: Vec<(PathBuf, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{e}"));
            (p, text)
        })
        .collect();
    found.sort();
    found
}

/// One way of damaging a text, at a position given as a share of its length.
#[derive(Clone, Debug)]
enum Damage {
    Delete { at: f64, len: usize },
    Insert { at: f64, text: &'static str },
    DuplicateLine { at: f64 },
    Truncate { at: f64 },
}

fn damage() -> impl Strategy<Value = Damage> {
    let piece = proptest::sample::select(vec![
        ":",
        "- ",
        "{",
        "}",
        "[",
        "]",
        "\"",
        "'",
        "\n",
        "  ",
        "\t",
        "#",
        "&a",
        "*a",
        "!!str ",
        "-1",
        "1e999",
        "99999999999999999999",
        "0x",
        "d",
        "7d",
        "é",
        "\u{0}",
        "---\n",
        "? ",
        "kind: Tenant\n",
        "at: ",
        "delete: {kind: Tenant, name: x}\n",
    ]);
    prop_oneof![
        (0.0..1.0f64, 1usize..40).prop_map(|(at, len)| Damage::Delete { at, len }),
        (0.0..1.0f64, piece).prop_map(|(at, text)| Damage::Insert { at, text }),
        (0.0..1.0f64).prop_map(|at| Damage::DuplicateLine { at }),
        (0.0..1.0f64).prop_map(|at| Damage::Truncate { at }),
    ]
}

fn apply(text: &str, damage: &Damage) -> String {
    let boundary = |at: f64| {
        let mut i = ((text.len() as f64) * at) as usize;
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    match damage {
        Damage::Delete { at, len } => {
            let from = boundary(*at);
            let mut to = (from + len).min(text.len());
            while !text.is_char_boundary(to) {
                to += 1;
            }
            format!("{}{}", &text[..from], &text[to..])
        }
        Damage::Insert { at, text: piece } => {
            let i = boundary(*at);
            format!("{}{piece}{}", &text[..i], &text[i..])
        }
        Damage::DuplicateLine { at } => {
            let lines: Vec<&str> = text.lines().collect();
            let i = ((lines.len() as f64) * at) as usize;
            let mut out = lines.clone();
            if let Some(line) = lines.get(i) {
                out.insert(i, line);
            }
            out.join("\n")
        }
        Damage::Truncate { at } => text[..boundary(*at)].to_owned(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
        ..ProptestConfig::default()
    })]

    #[test]
    fn a_damaged_scenario_parses_or_is_refused_naming_its_file(
        which in any::<proptest::sample::Index>(),
        damages in proptest::collection::vec(damage(), 1..4),
    ) {
        let scenarios = shipped();
        let (path, text) = which.get(&scenarios);
        let damaged = damages.iter().fold(text.clone(), |t, d| apply(&t, d));
        if let Err(e) = Scenario::parse(path, &damaged) {
            let message = e.to_string();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            prop_assert!(message.contains(name), "the error names the file: {message}");
        }
    }
}
