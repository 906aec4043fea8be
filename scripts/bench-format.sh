#!/usr/bin/env bash
# Format benchmarks: write and read throughput on a 1M-event synthetic trace, and read+decode
# as a ratio of plain zstd decompression of the same payload bytes. Prints a summary table;
# the numbers go into docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p rhf-format --bench format -- --noplot 2>&1 | tee /tmp/rhf-bench-format.log | grep -E "bench input|time:|thrpt:" || true
python3 - <<'PY'
import json, pathlib, re
log = pathlib.Path("/tmp/rhf-bench-format.log").read_text()
m = re.search(r"bench input: (\d+) syscall events, (\d+) records, (\d+) file bytes \(([\d.]+) bytes/event\), (\d+) raw payload bytes, (\d+) chunks", log)
events, records, file_bytes, bpe, raw, chunks = m.groups()
base = pathlib.Path("target/criterion/format")
med = {d.name: json.loads((d / "new/estimates.json").read_text())["median"]["point_estimate"] / 1e9
       for d in base.iterdir() if (d / "new/estimates.json").exists()}
rec = int(records)
print(f"\n{events} syscall events, {records} records, {file_bytes} bytes = {bpe} bytes/event, {chunks} chunks, raw {raw} bytes")
for name in ["write", "zstd_floor_1thread", "read_decode_1thread", "read_decode_1thread_reuse", "read_decode_parallel"]:
    s = med[name]
    print(f"{name:24s} median {s*1000:8.1f} ms  {rec/s/1e6:6.2f} M records/s  {int(raw)/s/1e6:7.1f} MB/s raw  {int(file_bytes)/s/1e6:6.1f} MB/s file")
floor = med["zstd_floor_1thread"]
print(f"read+decode 1 thread, owned records / zstd floor (throughput ratio): {floor/med['read_decode_1thread']:.2f}x")
print(f"read+decode 1 thread, reused buffer / zstd floor (throughput ratio): {floor/med['read_decode_1thread_reuse']:.2f}x")
print(f"read+decode parallel (all cores), reused buffer / zstd floor on 1 thread: {floor/med['read_decode_parallel']:.2f}x")
PY
