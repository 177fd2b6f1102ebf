//! Fuzz target: pkt-lines, the ref advertisement and a fetch's answer (side-band or not), as a git server sends them — any bytes, no panic, bounded memory.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| berth_git::fuzzing::wire(data));
