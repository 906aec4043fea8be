#!/usr/bin/env bash
# Records samples/live-indicators.rhf: a snapshot of the processes that live-indicators.sh
# starts (one per indicator, plus a plain sleep), with deleted and memfd executables copied.
# The scenario runs with an empty environment plus PATH, so nothing of the recording
# machine's environment ends up in the sample.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --quiet --release -p rhf-recorder
out=samples/live-indicators.rhf
fifo=$(mktemp -u)
mkfifo "$fifo"
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin RHF_SCENARIO_SECONDS=60 \
    samples/scenarios/live-indicators.sh > "$fifo" &
scenario=$!
trap 'kill -TERM $scenario 2>/dev/null; rm -f "$fifo"' EXIT
pids=()
while read -r label value; do
    [ "$label" = ready ] && break
    [ "$label" = loopback_port ] || pids+=("$value")
    echo "  $label $value"
done < "$fifo"
target/release/rhf-record snapshot --force --collect-exe -o "$out" \
    --pid "$(IFS=,; echo "${pids[*]}")"
