#!/usr/bin/env bash
# Host-wide snapshot cost: the plain host, then with 2,000 extra sleeping processes.
# Prints hyperfine's medians and, for one run of each, processes and bytes.
#   scripts/bench-snapshot.sh [EXTRA_PROCESSES]
set -euo pipefail
cd "$(dirname "$0")/.."
extra=${1:-2000}
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }
cargo build --quiet --release -p rhf-recorder
rec=$PWD/target/release/rhf-record
out=$(mktemp -d)
pids=()
cleanup() { [ "${#pids[@]}" -gt 0 ] && kill "${pids[@]}" 2>/dev/null; rm -rf "$out"; }
trap cleanup EXIT

measure() {
    local label=$1
    hyperfine --warmup 2 --runs 10 --export-json "$out/$label.json" \
        "$rec snapshot --force -o $out/$label.rhf" >/dev/null 2>&1
    local line
    line=$("$rec" snapshot --force -o "$out/$label.rhf" 2>&1)
    python3 - "$out/$label.json" "$label" "$line" <<'PY'
import json, sys, re
r = json.load(open(sys.argv[1]))["results"][0]
line = sys.argv[3]
procs = re.search(r": (\d+) processes \((\d+) more threads", line)
size = re.search(r"(\d+) bytes", line)
print(f"{sys.argv[2]:>14}: median {r['median']*1000:7.1f} ms (min {r['min']*1000:.1f}, max {r['max']*1000:.1f}, 10 runs)"
      f"  processes {procs.group(1)} (+{procs.group(2)} threads)  {size.group(1)} bytes")
PY
}

measure plain-host
for _ in $(seq "$extra"); do sleep 600 & pids+=($!); done
sleep 1
measure "plus-$extra"
