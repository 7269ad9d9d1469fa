//! The fuzzer's bytes through `mto_model::fuzzing::admission`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mto_model::fuzzing::admission(data));
