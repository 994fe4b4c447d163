#!/usr/bin/env bash
# bgsave-memory.sh - memory and write latency during a BGSAVE under a steady write load,
# Ferrodis next to redis-server, one after the other on the same machine.
#
#   bench/bgsave-memory.sh [FERRODIS_BIN]
#
# For each server: start it fresh (--save ''), fill it with DEBUG POPULATE (KEYS keys
# of SIZE bytes: 2,000,000 x 1,000 B = 2 GB of values by default), start a write load
# (redis-benchmark SET on random existing keys, same size, CLIENTS connections, for
# the whole save), run BGSAVE, and sample the server's memory every 50 ms until the
# save is done. Memory is the proportional set size (PSS, /proc/PID/smaps_rollup) of
# the server plus, for Redis, its forked child: pages shared by parent and child are
# counted once, pages copied on write twice, which is what the machine pays.
# Reports: dataset memory before the save, peak during it, peak - before, save time,
# and from the load (bench/setload.py, overwriting random existing keys in pipelined
# batches): SETs per second during the save and batch round trips (p50/p99/max ms).
#
# Knobs: KEYS [2000000], SIZE [1000], PORT_F [7601], PORT_R [7602],
#   REDIS [redis-server], DIR [mktemp -d].
set -euo pipefail
FERRODIS=${1:-target/release/ferrodis-server}
KEYS=${KEYS:-2000000}; SIZE=${SIZE:-1000}
HERE=$(cd "$(dirname "$0")" && pwd)
PORT_F=${PORT_F:-7601}; PORT_R=${PORT_R:-7602}; REDIS=${REDIS:-redis-server}
DIR=${DIR:-$(mktemp -d)}
trap 'rm -rf "$DIR"' EXIT

pss_kb() { # pid -> PSS in kB (0 if gone)
  awk '/^Pss:/ {print $2; found=1} END {if (!found) print 0}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0
}
children() { pgrep -P "$1" 2>/dev/null || true; }
info() { redis-cli -p "$1" INFO persistence | tr -d '\r' | awk -F: -v f="$2" '$1==f {print $2}'; }

run_one() { # label port cmd...
  local label=$1 port=$2; shift 2
  local d="$DIR/$label"; mkdir -p "$d"
  "$@" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$d" \
    --enable-debug-command yes --logfile "$d/log" &
  local pid=$!
  for _ in $(seq 100); do redis-cli -p "$port" PING >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -p "$port" DEBUG POPULATE "$KEYS" key "$SIZE" >/dev/null
  sleep 1
  local before; before=$(pss_kb "$pid")
  # The write load: overwrite random existing keys for as long as the save runs.
  rm -f "$d/stop"
  python3 "$HERE/setload.py" "$port" "$KEYS" "$SIZE" 600 "$d/stop" >"$d/load.txt" &
  local load=$!
  sleep 2
  local t0; t0=$(date +%s.%N)
  redis-cli -p "$port" BGSAVE >/dev/null
  local peak=$before
  while :; do
    local total; total=$(pss_kb "$pid")
    for c in $(children "$pid"); do total=$((total + $(pss_kb "$c"))); done
    [ "$total" -gt "$peak" ] && peak=$total
    [ "$(info "$port" rdb_bgsave_in_progress)" = 0 ] && break
    sleep 0.05
  done
  local t1; t1=$(date +%s.%N)
  touch "$d/stop"
  wait "$load" 2>/dev/null || true
  local status; status=$(info "$port" rdb_last_bgsave_status)
  redis-cli -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1 || kill "$pid"
  wait "$pid" 2>/dev/null || true
  awk -v l="$label" -v b="$before" -v p="$peak" -v t0="$t0" -v t1="$t1" -v s="$status" 'BEGIN {
    printf "%-9s dataset %7.0f MB  peak during BGSAVE %7.0f MB  extra %6.0f MB (%5.1f%%)  save %5.1f s  status %s\n",
      l, b/1024, p/1024, (p-b)/1024, (p-b)*100/b, t1-t0, s }'
  echo "          load: $(cat "$d/load.txt")"
}

echo "KEYS=$KEYS SIZE=$SIZE (write load: SET on random existing keys during the save)"
run_one ferrodis "$PORT_F" "$FERRODIS"
run_one redis "$PORT_R" "$REDIS"
