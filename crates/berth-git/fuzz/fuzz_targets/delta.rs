//! Fuzz target: a delta against a base (the first byte says how long the base is) — any bytes, no panic, bounded memory.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| berth_git::fuzzing::delta(data));
