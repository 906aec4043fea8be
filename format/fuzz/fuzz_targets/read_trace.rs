//! Arbitrary bytes as a trace file: open, read every record, decode every chunk in
//! parallel, verify, inspect the end state. The reader must never panic on any input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rhf_format_fuzz::exercise(data.to_vec());
});
