#!/usr/bin/env bash
# mem-per-key.sh - bytes per key of a string load, Ferrodis next to redis-server.
#
#   bench/mem-per-key.sh N KEYFMT VALUE_BYTES [FERRODIS_BIN]
#   e.g. bench/mem-per-key.sh 1000000 'key:%012d' 64
#        bench/mem-per-key.sh 1000000 'lru:%d' 3
#
# Loads N `SET KEYFMT%i <VALUE_BYTES x's>` with `redis-cli --pipe` into a freshly
# started server (Ferrodis, then redis-server, no persistence) and prints the growth of
# VmRSS and of INFO used_memory divided by N. Ports: PORT_F [7091], PORT_R [7092].
set -euo pipefail
N=$1 FMT=$2 VS=$3
BIN=${4:-target/release/ferrodis-server}
PORT_F=${PORT_F:-7091} PORT_R=${PORT_R:-7092}
LOAD=$(mktemp /tmp/mem-per-key.XXXXXX)
trap 'rm -f "$LOAD"' EXIT
python3 - "$N" "$FMT" "$VS" >"$LOAD" <<'PY'
import sys
n, fmt, vs = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
v = b"x" * vs
out = sys.stdout.buffer
for i in range(n):
    k = (fmt % i).encode()
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
PY
used() { redis-cli -p "$1" info memory | tr -d '\r' | awk -F: '$1=="used_memory"{print $2}'; }
rss() { awk '/VmRSS/{print $2 * 1024}' "/proc/$1/status"; }
for srv in ferrodis redis; do
    if [ $srv = ferrodis ]; then
        "$BIN" --port "$PORT_F" --save '' >/dev/null 2>&1 & port=$PORT_F
    else
        redis-server --port "$PORT_R" --save '' --appendonly no >/dev/null 2>&1 & port=$PORT_R
    fi
    pid=$!
    for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    r0=$(rss $pid) u0=$(used "$port")
    redis-cli -p "$port" --pipe <"$LOAD" >/dev/null
    sleep 1
    r1=$(rss $pid) u1=$(used "$port")
    echo "$srv keys=$(redis-cli -p "$port" dbsize) rss_bytes_per_key=$(( (r1 - r0) / N )) used_memory_bytes_per_key=$(( (u1 - u0) / N ))"
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
    wait $pid || true
done
