#!/usr/bin/env bash
# `rhf-analyze report --format json` against `summary` on a 1M-event synthetic trace, both with
# 2 threads (hyperfine medians, side by side), and the ratio (target: report at most 2x
# summary). Also `rules` (the evaluation the report contains) and a report whose rules fire,
# so that timeline excerpts are built too (ALERTING=0 skips that run).
set -euo pipefail
cd "$(dirname "$0")/.."
events=${EVENTS:-1000000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --quiet --release -p rhf-analyzer
cargo run --quiet --release -p rhf-format --example synth -- "$work/t.rhf" "$events" 1 >/dev/null
bin=$PWD/target/release/rhf-analyze
# A rule that fires on a few hundred of the synthetic trace's opens: the report then also
# builds the timeline around the first 20 alerts.
cat >"$work/alerting.yaml" <<'EOF'
- rule: Synthetic Conf Read
  desc: fires on the synthetic trace
  condition: evt.type = openat and fd.name = /etc/file-105.conf
  output: conf opened (proc=%proc.name file=%fd.name)
  priority: WARNING
EOF
cmds=(-n summary-2 "$bin summary --threads 2 $work/t.rhf"
      -n rules-2 "$bin rules --threads 2 $work/t.rhf"
      -n report-2 "$bin report --format json --threads 2 $work/t.rhf")
if [ "${ALERTING:-1}" = 1 ]; then
    cmds+=(-n report-alerting-2
           "$bin report --format json --threads 2 -r samples/rules/rhf_rules.yaml -r $work/alerting.yaml $work/t.rhf")
fi
hyperfine --runs "${RUNS:-10}" --warmup 2 -N --export-json "$work/s.json" "${cmds[@]}" >/dev/null
python3 - "$work/s.json" "$events" <<'PY'
import json, sys
r = {x["command"]: x["median"] for x in json.load(open(sys.argv[1]))["results"]}
n = int(sys.argv[2])
for k in ("summary-2", "rules-2", "report-2", "report-alerting-2"):
    if k in r:
        print(f"{k}: median {r[k]*1000:.1f} ms, {n/r[k]/1e6:.2f} M events/s")
print(f"report / summary: {r['report-2']/r['summary-2']:.2f}x the time (target <= 2)")
print(f"report / rules: {r['report-2']/r['rules-2']:.2f}x the time")
if "report-alerting-2" in r:
    print(f"report with alerts and excerpts / summary: {r['report-alerting-2']/r['summary-2']:.2f}x")
PY
