#!/usr/bin/env bash
# Writes the seed corpora of the fuzz targets into format/fuzz/corpus/{read_trace,mutate_trace}
# (gitignored). Run from anywhere; builds with the fuzz crate's own target dir.
set -euo pipefail
cd "$(dirname "$0")"
cargo run --quiet --release --bin make-seeds -- corpus
