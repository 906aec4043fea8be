#!/usr/bin/env bash
# The eBPF backend's cost (issue 7), side by side with ptrace and strace in one run (hyperfine
# medians; run as root on a quiet machine):
#   (1) dd if=/dev/zero of=/dev/null bs=1 count=500000 (1M syscalls): untraced, rhf --backend
#       ebpf, rhf --backend ptrace, strace -f -o FILE; ratio of each to untraced. The ptrace and
#       strace rows stop twice per call and take tens of seconds a run, so they run RUNS_SLOW
#       times (default 3); the others RUNS times (default 7).
#   (2) a realistic multi-process workload available offline: `make -j2` of zstd's C library
#       (the copy vendored in the cargo registry by zstd-sys; 60-odd files, about 6 s here),
#       cleaned before every run: untraced, ebpf, ptrace, strace; ratio to untraced.
#   (3) events per second sustained without loss: events and loss of one ebpf run of (1).
# Needs: hyperfine, strace, make, cc, an rhf-record built with the eBPF backend.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-7}
runs_slow=${RUNS_SLOW:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --quiet --release -p rhf-recorder -p rhf-analyzer
rec=$PWD/target/release/rhf-record
ana=$PWD/target/release/rhf-analyze
dd="dd if=/dev/zero of=/dev/null bs=1 count=${COUNT:-500000} status=none"

hyperfine --runs "$runs" --warmup 1 --export-json "$work/dd-fast.json" -N \
    -n untraced "$dd" \
    -n ebpf "$rec --backend ebpf --force -o $work/dd-ebpf.rhf -- $dd" >/dev/null
hyperfine --runs "$runs_slow" --warmup 0 --export-json "$work/dd-slow.json" -N \
    -n untraced "$dd" \
    -n ptrace "$rec --backend ptrace --force -o $work/dd-ptrace.rhf -- $dd" \
    -n strace "strace -f -o $work/dd-strace.txt $dd" >/dev/null

zstd_lib=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/zstd-sys-*/zstd/lib | head -1)
mkdir -p "$work/zstd"
cp -r "$zstd_lib"/common "$zstd_lib"/compress "$zstd_lib"/decompress "$zstd_lib"/*.h "$work/zstd/"
cat >"$work/zstd/Makefile" <<'EOF'
SRCS := $(wildcard common/*.c compress/*.c decompress/*.c)
OBJS := $(SRCS:.c=.o)
CFLAGS := -O1 -DZSTD_DISABLE_ASM
libzstd.a: $(OBJS)
	ar rcs $@ $^
clean:
	rm -f $(OBJS) libzstd.a
EOF
make_cmd="make -s -C $work/zstd -j2"
hyperfine --runs "$runs_slow" --warmup 1 --prepare "make -s -C $work/zstd clean" \
    --export-json "$work/make.json" -N \
    -n untraced "$make_cmd" \
    -n ebpf "$rec --backend ebpf --force -o $work/make-ebpf.rhf -- $make_cmd" \
    -n ptrace "$rec --backend ptrace --force -o $work/make-ptrace.rhf -- $make_cmd" \
    -n strace "strace -f -o $work/make-strace.txt $make_cmd" >/dev/null

"$rec" --backend ebpf --force -o "$work/rate.rhf" -- $dd 2>"$work/rate.txt"
"$ana" info "$work/rate.rhf" >"$work/rate-info.txt"

python3 - "$work" <<'PY'
import json, os, re, sys
w = sys.argv[1]
def med(f):
    return {r["command"]: r["median"] for r in json.load(open(os.path.join(w, f)))["results"]}
fast, slow, mk = med("dd-fast.json"), med("dd-slow.json"), med("make.json")
u = fast["untraced"]
print(f"(1) dd bs=1 count=500000: untraced {u:.3f}s  ebpf {fast['ebpf']:.3f}s = {fast['ebpf']/u:.2f}x (target <= 2.0)")
us = slow["untraced"]
print(f"    slow rows (own untraced {us:.3f}s): ptrace {slow['ptrace']:.2f}s = {slow['ptrace']/us:.1f}x  strace {slow['strace']:.2f}s = {slow['strace']/us:.1f}x")
mu = mk["untraced"]
print(f"(2) make -j2 of zstd's lib: untraced {mu:.2f}s  ebpf {mk['ebpf']:.2f}s = {mk['ebpf']/mu:.3f}x (target <= 1.05)  "
      f"ptrace {mk['ptrace']:.2f}s = {mk['ptrace']/mu:.3f}x  strace {mk['strace']:.2f}s = {mk['strace']/mu:.3f}x")
line = open(os.path.join(w, "rate.txt")).read()
m = re.search(r"(\d+) events, \d+ bytes, ([\d.]+) s", line)
lost = "LOST" in line
if m:
    ev, secs = int(m.group(1)), float(m.group(2))
    print(f"(3) ebpf sustained: {ev} events in {secs:.3f} s = {ev/secs/1e6:.2f} M events/s, "
          f"{'LOSS REPORTED' if lost else 'no loss'}")
PY
