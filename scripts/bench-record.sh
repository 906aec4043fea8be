#!/usr/bin/env bash
# Recorder cost, side by side in one run (hyperfine medians; RUNS=N runs, default 3; (b) is
# a 50 ms command, so it takes RUNS_B=N runs, default 30):
#   (a) dd bs=1 count=100000: untraced, ptrace-floor (../shared/bench/ptrace-floor.c),
#       strace -f -o FILE, rhf-record; added time of each over untraced
#   (b) the same with --trace %file (seccomp filter): ratio to untraced
#   (c) a multi-process workload (tar -czf of this repository's sources): rhf vs strace
#   (d) trace bytes vs zstd -3 of `strace -f -ttt -T -yy -o` of the same run
#   (e) recorder peak RSS on (a)
# rhf runs twice in (a) and (b): with its default stop wait, and with --spin-wait 0 (the tracer
# sleeps in waitpid at every stop, as ptrace-floor and strace do), so the recorder's own work
# per stop stays visible apart from the waiting strategy. TAR=0 skips (c) (about 10 minutes).
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
gcc -O2 -o "$work/seccomp-allow" scripts/seccomp-allow.c
dd="dd if=/dev/zero of=/dev/null bs=1 count=$count status=none"

hyperfine --runs "$runs" --warmup 0 --export-json "$work/a.json" -N \
    -n untraced "$dd" \
    -n ptrace-floor "$work/ptrace-floor $dd" \
    -n strace "strace -f -o $work/strace.txt $dd" \
    -n rhf "$rec --force -o $work/rhf.rhf -- $dd" \
    -n rhf-no-spin "$rec --force --spin-wait 0 -o $work/rhf.rhf -- $dd" >/dev/null

hyperfine --runs "${RUNS_B:-30}" --warmup 3 --export-json "$work/b.json" -N \
    -n untraced "$dd" \
    -n seccomp-allow "$work/seccomp-allow $dd" \
    -n rhf-trace-file "$rec --force --trace=%file -o $work/rhf-file.rhf -- $dd" \
    -n rhf-trace-file-no-spin "$rec --force --spin-wait 0 --trace=%file -o $work/rhf-file.rhf -- $dd" \
    -n strace-seccomp "strace -f --seccomp-bpf -e trace=%file -o $work/strace-file.txt $dd" >/dev/null

tar_cmd="tar -czf $work/src.tgz --exclude=target --exclude=corpus format recorder analyzer"
if [ "${TAR:-1}" != 0 ]; then
    hyperfine --runs "$runs" --warmup 0 --export-json "$work/c.json" -N \
        -n tar-untraced "$tar_cmd" \
        -n tar-strace "strace -f -o $work/tar-strace.txt $tar_cmd" \
        -n tar-rhf "$rec --force -o $work/tar.rhf -- $tar_cmd" >/dev/null
fi

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
a, b = med("a.json"), med("b.json")
u = a["untraced"]
print(f"(a) dd bs=1 count: medians: untraced {u:.3f}s  floor {a['ptrace-floor']:.3f}s  strace {a['strace']:.3f}s  rhf {a['rhf']:.3f}s  rhf --spin-wait 0 {a['rhf-no-spin']:.3f}s")
added = {k: a[k] - u for k in ("ptrace-floor", "strace", "rhf", "rhf-no-spin")}
print(f"    added time: floor {added['ptrace-floor']:.3f}s  strace {added['strace']:.3f}s  rhf {added['rhf']:.3f}s  rhf --spin-wait 0 {added['rhf-no-spin']:.3f}s")
print(f"    rhf added / floor added = {added['rhf']/added['ptrace-floor']:.3f}  (target <= 1.10); with --spin-wait 0: {added['rhf-no-spin']/added['ptrace-floor']:.3f}")
print(f"    rhf added / strace added = {added['rhf']/added['strace']:.3f}  (target < 1); with --spin-wait 0: {added['rhf-no-spin']/added['strace']:.3f}")
bu = b["untraced"]
print(f"(b) --trace %file: untraced {bu:.4f}s  rhf {b['rhf-trace-file']:.4f}s = {b['rhf-trace-file']/bu:.3f}x (target <= 1.3)  "
      f"rhf --spin-wait 0 {b['rhf-trace-file-no-spin']/bu:.3f}x  strace --seccomp-bpf {b['strace-seccomp']/bu:.3f}x")
print(f"    any seccomp filter (seccomp-allow, the floor under --trace): {b['seccomp-allow']/bu:.3f}x")
if os.path.exists(os.path.join(w, "c.json")):
    c = med("c.json")
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
