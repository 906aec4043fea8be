#!/usr/bin/env bash
# Starts harmless processes that each show one live-response indicator of
# ../shared/design/FORENSICS.md, prints "<indicator> <pid>" for each (and "none <pid>" for a
# plain sleep that must raise nothing), then "ready", and waits. SIGTERM or SIGINT ends every
# process and removes the files it made. Every process ends by itself after
# RHF_SCENARIO_SECONDS (default 120). Network: one listener on 127.0.0.1 only (its port is
# printed as "loopback_port <port>").
#
#   deleted_exe              a copy of sleep, deleted after it started
#   memfd_exec               sleep's bytes in a memfd, executed from it (python3 os.memfd_create)
#   ld_preload               LD_PRELOAD set in the environment
#   reverse_shell            sh whose stdin/stdout/stderr are a TCP socket to a loopback listener
#   fake_kernel_thread       sleep started as "[kworker/0:9]" (exec -a)
#   exec_from_writable_dir   a copy of sleep run from /dev/shm
#   secret_in_env            AWS_SECRET_ACCESS_KEY in the environment
#   secret_on_cmdline        --password= and --token-auth-file= on a command line
set -euo pipefail
LIFETIME=${RHF_SCENARIO_SECONDS:-120}
PY=/usr/bin/python3
work=$(mktemp -d /tmp/rhf-scenario.XXXXXX)
shm=$(mktemp /dev/shm/rhf-scenario.XXXXXX)

cleanup() {
    trap - EXIT INT TERM
    kill $(jobs -p) 2>/dev/null || true
    rm -rf "$work" "$shm"
    exit 0
}
trap cleanup EXIT INT TERM

# Waits (at most 5 s) until pid $1 runs the executable whose link target starts with $2.
wait_exe() {
    for _ in $(seq 100); do
        case "$(readlink "/proc/$1/exe" 2>/dev/null)" in "$2"*) return 0 ;; esac
        sleep 0.05
    done
    echo "scenario: pid $1 never ran $2" >&2
    return 1
}

cp /bin/sleep "$work/sleep-deleted"
"$work/sleep-deleted" "$LIFETIME" &
wait_exe $! "$work/sleep-deleted"
rm "$work/sleep-deleted"
echo "deleted_exe $!"

"$PY" -c '
import os, sys
fd = os.memfd_create("rhf-payload", 0)
os.write(fd, open("/bin/sleep", "rb").read())
os.execv(f"/proc/self/fd/{fd}", ["sleep", sys.argv[1]])
' "$LIFETIME" &
wait_exe $! "/memfd:rhf-payload"
echo "memfd_exec $!"

LD_PRELOAD=/nonexistent/rhf-preload.so sleep "$LIFETIME" 2>/dev/null &
echo "ld_preload $!"

"$PY" -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
print(s.getsockname()[1], flush=True)
conn, _ = s.accept()
time.sleep(int(sys.argv[1]))
' "$LIFETIME" > "$work/port" &
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
"$PY" -c '
import os, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
for fd in (0, 1, 2):
    os.dup2(s.fileno(), fd)
os.execv("/bin/sh", ["sh", "-c", "sleep " + sys.argv[2] + "; true"])
' "$(cat "$work/port")" "$LIFETIME" &
wait_exe $! "/usr/bin/dash" || wait_exe $! "/bin/"
echo "reverse_shell $!"
echo "loopback_port $(cat "$work/port")"

bash -c 'exec -a "[kworker/0:9]" sleep "$1"' _ "$LIFETIME" &
echo "fake_kernel_thread $!"

cp /bin/sleep "$shm"
chmod 700 "$shm"
"$shm" "$LIFETIME" &
echo "exec_from_writable_dir $!"

AWS_SECRET_ACCESS_KEY=rhf-planted-env-secret-5b1c sleep "$LIFETIME" &
echo "secret_in_env $!"

"$PY" -c 'import sys, time; time.sleep(int(sys.argv[1]))' "$LIFETIME" \
    --password=rhf-planted-cmdline-secret-9d2e --token-auth-file=/etc/kubernetes/tokens.csv &
echo "secret_on_cmdline $!"

sleep "$LIFETIME" &
echo "none $!"

echo ready
wait
