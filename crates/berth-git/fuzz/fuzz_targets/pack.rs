//! Fuzz target: a pack: entries, deltas resolved, each commit's tree walked into files — any bytes, no panic, bounded memory.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| berth_git::fuzzing::pack(data));
