#!/usr/bin/env bash
# Writes the seed corpora of the rules-engine fuzz targets into analyzer/fuzz/corpus/
# {parse_condition,load_rules} (gitignored) from the upstream Falco rules files and the
# project's sample rules. Nothing upstream is committed: the seeds are extracted at run time.
# FALCO_RULES_DIR overrides where the upstream files are (default ../shared/compat/falco-rules
# next to the repository). Run from anywhere; builds with the fuzz crate's own target dir.
set -euo pipefail
cd "$(dirname "$0")"
falco="${FALCO_RULES_DIR:-../../../shared/compat/falco-rules}"
cargo run --quiet --release --bin make-seeds -- corpus "$falco" ../../samples/rules
