//! Sequences of tenants, users' edits and mto's decisions against the
//! in-memory apiserver: the invariants hold after every action and at rest.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mto_model::fuzzing::cluster::run(data));
