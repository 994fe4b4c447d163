#!/usr/bin/env bash
# eviction-hitrate.sh - eviction quality: hit rate of a cache workload under
# `maxmemory` with an LRU (or LFU) policy, Ferrodis next to redis-server.
#
#   bench/eviction-hitrate.sh [FERRODIS_BIN]
#
# The workload is redis-cli's own `--lru-test KEYS` (the tool Redis's eviction docs
# use): GETs with an 80/20 access pattern over KEYS keys, SET on a miss. Each server is
# started fresh with `--maxmemory MAXMEM --maxmemory-policy POLICY`, the test runs
# SECS seconds, and the hit rate is the median of the per-second lines after WARMUP
# seconds (the cache is full by then). Rounds alternate Ferrodis / Redis.
#
# Knobs: KEYS [1000000], MAXMEM [20mb], POLICY [allkeys-lru], SECS [30], WARMUP [15],
#   ROUNDS [2], PORT_F [7611], PORT_R [7612], REDIS [redis-server].
set -euo pipefail
FERRODIS=${1:-target/release/ferrodis-server}
KEYS=${KEYS:-1000000}; MAXMEM=${MAXMEM:-20mb}; POLICY=${POLICY:-allkeys-lru}
SECS=${SECS:-30}; WARMUP=${WARMUP:-15}; ROUNDS=${ROUNDS:-2}
PORT_F=${PORT_F:-7611}; PORT_R=${PORT_R:-7612}; REDIS=${REDIS:-redis-server}
DIR=$(mktemp -d); trap 'rm -rf "$DIR"' EXIT

one() { # label port cmd...
  local label=$1 port=$2; shift 2
  "$@" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$DIR" \
    --maxmemory "$MAXMEM" --maxmemory-policy "$POLICY" >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 100); do redis-cli -p "$port" PING >/dev/null 2>&1 && break; sleep 0.1; done
  timeout "$SECS" stdbuf -oL redis-cli -p "$port" --lru-test "$KEYS" >"$DIR/$label.txt" 2>&1 || true
  local evicted; evicted=$(redis-cli -p "$port" INFO stats | tr -d '\r' | awk -F: '$1=="evicted_keys"{print $2}')
  local used; used=$(redis-cli -p "$port" INFO memory | tr -d '\r' | awk -F: '$1=="used_memory"{print $2}')
  kill "$pid"; wait "$pid" 2>/dev/null || true
  # Lines: "N Gets/sec | Hits: H (P%) | Misses: ...": median P after WARMUP lines.
  local hit; hit=$(tail -n +"$((WARMUP + 1))" "$DIR/$label.txt" |
    sed -n 's/.*Hits: [0-9]* (\([0-9.]*\)%).*/\1/p' | sort -n |
    awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "n/a"}')
  local gets; gets=$(tail -n +"$((WARMUP + 1))" "$DIR/$label.txt" |
    sed -n 's/^\([0-9]*\) Gets.*/\1/p' | sort -n |
    awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "n/a"}')
  printf '%-9s hit rate %6s%%  gets/s %8s  evicted_keys %9s  used_memory %6.1f MB\n' \
    "$label" "$hit" "$gets" "$evicted" "$(echo "$used" | awk '{print $1/1048576}')"
}

echo "KEYS=$KEYS MAXMEM=$MAXMEM POLICY=$POLICY SECS=$SECS (median of per-second hit rates after $WARMUP s)"
for r in $(seq "$ROUNDS"); do
  one ferrodis "$PORT_F" "$FERRODIS"
  one redis "$PORT_R" "$REDIS"
done
