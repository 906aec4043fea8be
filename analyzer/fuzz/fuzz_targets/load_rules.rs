//! Arbitrary bytes as a Falco rules file: loaded into an empty rule set and, when it loads,
//! compiled into an engine. Nothing is evaluated (no trace is involved).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rhf_analyzer_fuzz::exercise_rules(data);
});
