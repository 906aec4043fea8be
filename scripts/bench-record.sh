#!/usr/bin/env bash
# Recorder cost, side by side in one run (hyperfine medians; --runs N, default 3):
#   (a) dd bs=1 count=100000: untraced, ptrace-floor (../shared/bench/ptrace-floor.c),
#       strace -f -o FILE, rhf-record; added time of each over untraced
#   (b) the same with --trace %file (seccomp filter): ratio to untraced
#   (c) a multi-process workload (tar -czf of this repository's sources): rhf vs strace
#   (d) trace bytes vs zstd -3 of `strace -f -ttt -T -yy -o` of the same run
#   (e) recorder peak RSS on (a)
# Needs: hyperfine, strace, gcc, zstd, GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
count=${COUNT:-100000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --quiet --release -p rhf-recorder -p rhf-analyzer
rec=$PWD/target/release/rhf-record
floor_src=../shared/bench/ptrace-floor.c
gcc -O2 -o "$work/ptrace-floor" "$floor_src"
dd="dd if=/dev/zero of=/dev/null bs=1 count=$count status=none"

hyperfine --runs "$runs" --warmup 0 --export-json "$work/a.json" -N \
    -n untraced "$dd" \
    -n ptrace-floor "$work/ptrace-floor $dd" \
    -n strace "strace -f -o $work/strace.txt $dd" \
    -n rhf "$rec --force -o $work/rhf.rhf -- $dd" \
    -n rhf-trace-file "$rec --force --trace=%file -o $work/rhf-file.rhf -- $dd" >/dev/null

tar_cmd="tar -czf $work/src.tgz --exclude=target --exclude=corpus format recorder analyzer"
hyperfine --runs "$runs" --warmup 0 --export-json "$work/c.json" -N \
    -n tar-untraced "$tar_cmd" \
    -n tar-strace "strace -f -o $work/tar-strace.txt $tar_cmd" \
    -n tar-rhf "$rec --force -o $work/tar.rhf -- $tar_cmd" >/dev/null

# (d) sizes of one run of each
strace -f -ttt -T -yy -o "$work/strace-yy.txt" $dd
zstd -q -3 -f "$work/strace-yy.txt" -o "$work/strace-yy.txt.zst"
"$rec" --force -o "$work/size.rhf" -- $dd 2>/dev/null
# (e) peak RSS
/usr/bin/time -f %M -o "$work/rss.txt" "$rec" --force -o "$work/rss.rhf" -- $dd 2>/dev/null

python3 - "$work" <<'PY'
import json, os, sys
w = sys.argv[1]
def med(f):
    return {r["command"]: r["median"] for r in json.load(open(os.path.join(w, f)))["results"]}
a, c = med("a.json"), med("c.json")
u = a["untraced"]
print(f"(a) dd bs=1 count: medians: untraced {u:.3f}s  floor {a['ptrace-floor']:.3f}s  strace {a['strace']:.3f}s  rhf {a['rhf']:.3f}s")
added = {k: a[k] - u for k in ("ptrace-floor", "strace", "rhf")}
print(f"    added time: floor {added['ptrace-floor']:.3f}s  strace {added['strace']:.3f}s  rhf {added['rhf']:.3f}s")
print(f"    rhf added / floor added = {added['rhf']/added['ptrace-floor']:.3f}  (target <= 1.10)")
print(f"    rhf added / strace added = {added['rhf']/added['strace']:.3f}  (target < 1)")
print(f"(b) --trace %file: {a['rhf-trace-file']:.3f}s = {a['rhf-trace-file']/u:.2f}x untraced (target <= 1.3)")
tu = c["tar-untraced"]
print(f"(c) tar -czf: untraced {tu:.3f}s  strace {c['tar-strace']:.3f}s ({c['tar-strace']/tu:.2f}x)  rhf {c['tar-rhf']:.3f}s ({c['tar-rhf']/tu:.2f}x)")
print(f"    rhf overhead / strace overhead = {(c['tar-rhf']-tu)/(c['tar-strace']-tu):.3f}")
rhf_size = os.path.getsize(os.path.join(w, "size.rhf"))
zst = os.path.getsize(os.path.join(w, "strace-yy.txt.zst"))
txt = os.path.getsize(os.path.join(w, "strace-yy.txt"))
print(f"(d) trace bytes: rhf {rhf_size}  strace -yy text {txt}, zstd -3 {zst}: ratio {rhf_size/zst:.3f} (target <= 0.5)")
rss = int(open(os.path.join(w, "rss.txt")).read().split()[-1])
print(f"(e) recorder peak RSS on (a): {rss/1024:.1f} MB (target <= 32 MB)")
PY
