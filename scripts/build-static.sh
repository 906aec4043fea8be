#!/usr/bin/env bash
# Builds rhf-record as one statically linked binary (glibc static-pie) to copy onto a node:
#   scripts/build-static.sh            -> prints the path of the binary
# The explicit --target is required: without it, proc-macro crates would be built crt-static
# too and fail (docs/DEPLOYMENT.md). CARGO_TARGET_DIR keeps it apart from normal builds.
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-gnu
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/static}"
# Stripped: the node gets a small binary; symbols stay in normal builds.
CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_STRIP=symbols RUSTFLAGS='-C target-feature=+crt-static' \
    cargo build --quiet --release --locked --target "$target" -p rhf-recorder --bin rhf-record
echo "$CARGO_TARGET_DIR/$target/release/rhf-record"
