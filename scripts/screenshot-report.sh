#!/usr/bin/env bash
# Renders an HTML report with headless Chromium (Debian's `chromium`) and saves a PNG
# screenshot: proof that the report opens offline and shows its content.
#
#   scripts/screenshot-report.sh REPORT.html OUT.png [WIDTH,HEIGHT]
#   scripts/screenshot-report.sh TRACE.rhf   OUT.png [WIDTH,HEIGHT]   # builds the report first
#
# With a trace, the report is made by $RHF_ANALYZE (default: target/release/rhf-analyze, built
# when missing) with the built-in rules. Chromium runs with a throw-away profile and with every
# network request refused, so a page that tried to load anything would show it missing.
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,9p' "$0" >&2; exit 2; }
input=$1
out=$2
size=${3:-1400,2000}
chromium=${CHROMIUM:-chromium}
command -v "$chromium" >/dev/null || { echo "screenshot-report: $chromium not found (apt-get install chromium)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
case "$input" in
    *.html|*.htm)
        html=$(realpath "$input")
        ;;
    *)
        root=$(cd "$(dirname "$0")/.." && pwd)
        analyze=${RHF_ANALYZE:-$root/target/release/rhf-analyze}
        if [ ! -x "$analyze" ]; then
            (cd "$root" && cargo build --quiet --release -p rhf-analyzer)
        fi
        html=$work/report.html
        "$analyze" report --format html -o "$html" "$input"
        ;;
esac
# --headless: no display; --no-sandbox: CI runs as root; the proxy settings send any request
# to a closed port, so nothing leaves the machine.
timeout "${TIMEOUT:-120}" "$chromium" --headless --no-sandbox --disable-gpu \
    --disable-dev-shm-usage --no-first-run --no-default-browser-check \
    --user-data-dir="$work/profile" --proxy-server='http://127.0.0.1:9' \
    --proxy-bypass-list='<-loopback>' --hide-scrollbars \
    --screenshot="$work/shot.png" --window-size="$size" "file://$html" \
    >"$work/chromium.log" 2>&1 || { cat "$work/chromium.log" >&2; exit 1; }
[ -s "$work/shot.png" ] || { cat "$work/chromium.log" >&2; echo "screenshot-report: no screenshot" >&2; exit 1; }
cp "$work/shot.png" "$out"
echo "$out: $(stat -c %s "$out") bytes"
