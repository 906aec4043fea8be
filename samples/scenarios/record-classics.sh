#!/usr/bin/env bash
# Records the syscall-capture samples: samples/ls.rhf (`ls /` traced, the classic) and
# samples/pipeline.rhf (a small multi-process pipeline). Each runs with an empty environment
# plus PATH, HOME and LANG, so nothing of the recording machine's environment is kept.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --quiet --release -p rhf-recorder
rec=$PWD/target/release/rhf-record
clean=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8)
"${clean[@]}" "$rec" --force -o samples/ls.rhf -- ls / >/dev/null
"${clean[@]}" "$rec" --force -o samples/pipeline.rhf -- \
    sh -c 'grep -c root /etc/passwd | tr 0-9 a-j > /dev/null; sort /etc/hostname | head -1 > /dev/null'
