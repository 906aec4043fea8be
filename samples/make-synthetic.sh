#!/usr/bin/env bash
# Regenerates samples/synthetic-v1.0.rhf, the format-1.0 compatibility sample: 5,000 synthetic
# syscall events (seed 1) in small chunks so it has several. Readers must read it forever;
# format/tests/compat.rs pins its digest and counts. Do not regenerate it for a new format
# version: add a new sample next to it instead.
set -euo pipefail
cd "$(dirname "$0")/.."
CHUNK=16384 cargo run --quiet --release -p rhf-format --example synth -- samples/synthetic-v1.0.rhf 5000 1
