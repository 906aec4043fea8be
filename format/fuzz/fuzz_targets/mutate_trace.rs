//! Edits to a small valid synthetic trace (300 events, 2 KiB chunks, zstd level 1): the input
//! is a mode byte, an optional truncation length and XOR patches; payload edits can be
//! re-sealed so they get past the checksums and reach the decoders. See
//! `rhf_format_fuzz::mutate` for the input layout.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: {
        // Build (and self-check) the base trace before the first input.
        rhf_format_fuzz::Base::get();
    },
    |data: &[u8]| {
        rhf_format_fuzz::exercise(rhf_format_fuzz::mutate(data));
    }
);
