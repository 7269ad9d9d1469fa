//! Any text read as manifests, then validated: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        mto_model::fuzzing::manifest(text);
    }
});
