//! Sleep schedules in arbitrary zones, and when they sleep: never a
//! panic, and a next transition really changes the state.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mto_model::fuzzing::schedule(data));
