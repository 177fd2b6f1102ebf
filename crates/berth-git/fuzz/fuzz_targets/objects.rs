//! Fuzz target: one object's body read as a commit, a tag and a tree — any bytes, no panic, bounded memory.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| berth_git::fuzzing::objects(data));
