//! Arbitrary bytes as a rule condition: list substitution (a fixed set of lists, see
//! `rhf_analyzer_fuzz::LISTS`), parsing, then compiling without macros. Checks the error
//! offsets, the offset mapping back to the original text and the syntax tree's spans.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rhf_analyzer_fuzz::exercise_condition(data);
});
