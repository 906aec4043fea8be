#!/usr/bin/env bash
# `rhf-analyze rules` with the upstream Falco stable rules file over a 1M-event synthetic trace,
# with 1 and 2 threads (hyperfine medians, side by side), and its throughput in events per
# second. The rules file is read from ../shared (never copied into the project).
set -euo pipefail
cd "$(dirname "$0")/.."
events=${EVENTS:-1000000}
rules=${RULES:-../shared/compat/falco-rules/falco_rules.yaml}
[ -f "$rules" ] || { echo "missing $rules" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --quiet --release -p rhf-analyzer
cargo run --quiet --release -p rhf-format --example synth -- "$work/t.rhf" "$events" 1 >/dev/null
bin=$PWD/target/release/rhf-analyze
hyperfine --runs "${RUNS:-10}" --warmup 2 -N --export-json "$work/s.json" \
    -n threads-1 "$bin rules --threads 1 -r $rules $work/t.rhf" \
    -n threads-2 "$bin rules --threads 2 -r $rules $work/t.rhf" \
    -n summary-2 "$bin summary --threads 2 $work/t.rhf" >/dev/null
python3 - "$work/s.json" "$events" <<'PY'
import json, sys
r = {x["command"]: x["median"] for x in json.load(open(sys.argv[1]))["results"]}
n = int(sys.argv[2])
for k in ("threads-1", "threads-2", "summary-2"):
    print(f"{k}: median {r[k]*1000:.1f} ms, {n/r[k]/1e6:.2f} M events/s")
print(f"rules speed-up threads-2 / threads-1: {r['threads-1']/r['threads-2']:.2f}x (target >= 1.6)")
print(f"rules threads-2 / summary threads-2: {r['threads-2']/r['summary-2']:.2f}x the time")
PY
