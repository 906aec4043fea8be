#!/usr/bin/env bash
# `rhf-analyze summary` on a 1M-event synthetic trace with 1 and 2 threads (hyperfine medians,
# side by side), and its throughput in events per second.
set -euo pipefail
cd "$(dirname "$0")/.."
events=${EVENTS:-1000000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --quiet --release -p rhf-analyzer
cargo run --quiet --release -p rhf-format --example synth -- "$work/t.rhf" "$events" 1 >/dev/null
bin=$PWD/target/release/rhf-analyze
hyperfine --runs "${RUNS:-10}" --warmup 2 -N --export-json "$work/s.json" \
    -n threads-1 "$bin summary --threads 1 $work/t.rhf" \
    -n threads-2 "$bin summary --threads 2 $work/t.rhf" >/dev/null
python3 - "$work/s.json" "$events" <<'PY'
import json, sys
r = {x["command"]: x["median"] for x in json.load(open(sys.argv[1]))["results"]}
n = int(sys.argv[2])
for k in ("threads-1", "threads-2"):
    print(f"summary {k}: median {r[k]*1000:.1f} ms, {n/r[k]/1e6:.2f} M events/s")
print(f"speed-up threads-2 / threads-1: {r['threads-1']/r['threads-2']:.2f}x (target >= 1.6)")
PY
