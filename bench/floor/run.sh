#!/usr/bin/env bash
# run.sh - the CPU floor of unpipelined traffic (issue 9): how much server CPU per
# request the kernel alone charges on loopback, measured next to redis-server and
# ferrodis-server in alternating rounds.
#
#   bench/floor/run.sh [ROUNDS] [TEST]     e.g. bench/floor/run.sh 5 ping_mbulk
#
# epoll_pong and uring_pong (this directory) answer every command with +PONG and do no
# other work; whatever CPU they spend per request is the kernel's (recv, send, which on
# loopback also delivers the reply into the client's socket and wakes it, and epoll or
# io_uring). Setup as bench/suite.sh: redis-benchmark -c 50 -P 1 pinned to CPU 0, the
# server (all threads) to CPU 1, Ferrodis with one worker thread; CPU per request is
# user+sys of the server process from /proc/PID/stat. Needs cc and liburing-dev.
set -euo pipefail
ROUNDS=${1:-5}
TEST=${2:-ping_mbulk}
N=${N:-300000}
PORT=${PORT:-7311}
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${BIN:-$HERE/../../target/release/ferrodis-server}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
cc -O2 -o "$WORK/epoll_pong" "$HERE/epoll_pong.c"
cc -O2 -o "$WORK/uring_pong" "$HERE/uring_pong.c" -luring
[ -x "$BIN" ] || { echo "build ferrodis first: cargo build --release" >&2; exit 1; }
TICK=$(getconf CLK_TCK)

run() {
  case $1 in
    redis) redis-server --port "$PORT" --save "" --appendonly no --dir "$WORK" >/dev/null 2>&1 & ;;
    ferrodis) "$BIN" --port "$PORT" --save "" --appendonly no --dir "$WORK" --worker-threads 1 >/dev/null 2>&1 & ;;
    *) "$WORK/$1" "$PORT" >/dev/null 2>&1 & ;;
  esac
  local pid=$!
  for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  taskset -a -pc 1 "$pid" >/dev/null
  local a b ops
  a=$(awk '{print $14+$15}' "/proc/$pid/stat")
  ops=$(taskset -c 0 redis-benchmark -p "$PORT" -c 50 -P 1 -n "$N" -t "$TEST" -q 2>/dev/null \
        | tr '\r' '\n' | grep "requests per second" | tail -1 | awk '{print $2}')
  b=$(awk '{print $14+$15}' "/proc/$pid/stat")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$1 $ops $(echo "($b-$a)*1000000/$TICK/$N" | bc -l)"
}

for _ in $(seq "$ROUNDS"); do
  for m in epoll_pong uring_pong redis ferrodis; do run $m; done
done | python3 -c '
import sys, statistics as st
rows = {}
for line in sys.stdin:
    name, ops, cpu = line.split()
    rows.setdefault(name, []).append((float(ops), float(cpu)))
redis = st.median(c for _, c in rows["redis"])
print("| server | ops/s (median) | CPU us/req (median) | CPU vs redis-server |")
print("| --- | ---: | ---: | ---: |")
for name in ["epoll_pong", "uring_pong", "redis", "ferrodis"]:
    ops = st.median(o for o, _ in rows[name]); cpu = st.median(c for _, c in rows[name])
    print(f"| {name} | {ops:,.0f} | {cpu:.2f} | {cpu / redis:.2f} |")
'
