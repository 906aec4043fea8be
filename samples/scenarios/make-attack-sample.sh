#!/usr/bin/env bash
# Records samples/attack.rhf: rhf-record launches and traces attack.sh (the scripted intrusion
# it describes) and everything it starts. Run as root.
#
# The recording runs from a scratch directory holding copies of the recorder and the script,
# with an empty environment plus PATH, so neither the recording machine's environment nor its
# paths end up in the sample (the trace keeps the recorder's command line:
# `./rhf-record -o attack.rhf --force --duration 60s -- ./attack.sh`). --duration bounds it in
# case a step hangs.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "make-attack-sample.sh: run as root" >&2; exit 1; }
cargo build --quiet --release -p rhf-recorder
scratch=$(mktemp -d /tmp/rhf-attack-sample.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
cp target/release/rhf-record samples/scenarios/attack.sh "$scratch/"
(cd "$scratch" && env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    ./rhf-record -o attack.rhf --force --duration 60s -- ./attack.sh)
out=samples/attack.rhf
cp "$scratch/attack.rhf" "$out"
size=$(stat -c %s "$out")
echo "$out: $size bytes"
[ "$size" -lt 200000 ] || { echo "make-attack-sample.sh: $out is over 200 KB" >&2; exit 1; }
