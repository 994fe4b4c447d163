#!/usr/bin/env bash
# commands.sh - throughput of single commands (redis-benchmark) on two RESP servers
# already running on 127.0.0.1, measured in alternation (A, B, A, B...) and reported
# as medians and the A/B ratio. Complements ../shared/bench/compare.sh, whose
# scenarios are fixed, for command families it does not cover (scripts, pub/sub,
# streams).
#
#   bench/commands.sh A_PORT B_PORT
#
# Scenarios (ONLY=name1,name2 to pick):
#   EVALSHA   EVALSHA of `return redis.call('incr', KEYS[1])` with one key
#   PUBLISH   PUBLISH to a channel with SUBS (10) redis-cli subscribers
#   XADD      XADD s * f v (auto IDs, one growing stream)
#   XREADGROUP  XREADGROUP GROUP g c COUNT 1 STREAMS s > on a stream preloaded with
#             enough entries that every call delivers a new one
# Knobs: ROUNDS [3], N [100000] requests per sample, CLIENTS [50],
#   PIN [1] (redis-benchmark on CPU CLIENT_CPU [0]; pin the servers yourself, e.g.
#   `taskset -c 1 ferrodis-server --worker-threads 1`), SUBS [10], LABEL_A/LABEL_B,
#   EXTRA [] more redis-benchmark options (EXTRA="-P 16" for pipelining).
# The servers must be disposable: each sample starts with FLUSHALL.
set -euo pipefail
A=${1:?A_PORT}; B=${2:?B_PORT}
ROUNDS=${ROUNDS:-3}; N=${N:-100000}; CLIENTS=${CLIENTS:-50}; PIN=${PIN:-1}
CLIENT_CPU=${CLIENT_CPU:-0}; SUBS=${SUBS:-10}
LABEL_A=${LABEL_A:-A}; LABEL_B=${LABEL_B:-B}
ONLY=${ONLY:-EVALSHA,PUBLISH,XADD,XREADGROUP}
SCRIPT="return redis.call('incr', KEYS[1])"
bench() { # port args...
  local port=$1; shift
  local pin=()
  [ "$PIN" = 1 ] && pin=(taskset -c "$CLIENT_CPU")
  # shellcheck disable=SC2086
  "${pin[@]}" redis-benchmark -p "$port" -n "$N" -c "$CLIENTS" ${EXTRA:-} --csv "$@" 2>/dev/null |
    awk -F'"' 'NR==2 {print $4}'
}
prepare() { # scenario port
  redis-cli -p "$2" FLUSHALL >/dev/null
  case $1 in
    EVALSHA) redis-cli -p "$2" SCRIPT LOAD "$SCRIPT" ;;
    XREADGROUP)
      # N + margin entries, then a group reading from the start.
      seq 1 $((N + 1000)) | awk '{printf "XADD s * f v%d\n", $1}' | redis-cli -p "$2" >/dev/null
      redis-cli -p "$2" XGROUP CREATE s g 0 >/dev/null ;;
  esac
}
run() { # scenario port
  case $1 in
    EVALSHA) local sha; sha=$(prepare EVALSHA "$2"); bench "$2" EVALSHA "$sha" 1 counter ;;
    PUBLISH)
      prepare PUBLISH "$2"
      local pids=()
      for _ in $(seq 1 "$SUBS"); do
        redis-cli -p "$2" SUBSCRIBE ch >/dev/null & pids+=($!)
      done
      sleep 0.5
      bench "$2" PUBLISH ch hello
      kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null || true ;;
    XADD) prepare XADD "$2"; bench "$2" XADD s '*' f v ;;
    XREADGROUP) prepare XREADGROUP "$2"; bench "$2" XREADGROUP GROUP g c COUNT 1 STREAMS s '>' ;;
  esac
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
printf "%-12s %14s %14s %7s\n" scenario "$LABEL_A ops/s" "$LABEL_B ops/s" ratio
for s in ${ONLY//,/ }; do
  ra=(); rb=()
  for _ in $(seq 1 "$ROUNDS"); do
    ra+=("$(run "$s" "$A")"); rb+=("$(run "$s" "$B")")
  done
  ma=$(printf "%s\n" "${ra[@]}" | median); mb=$(printf "%s\n" "${rb[@]}" | median)
  printf "%-12s %14.0f %14.0f %7.2f   (%s | %s)\n" "$s" "$ma" "$mb" \
    "$(awk -v a="$ma" -v b="$mb" 'BEGIN {print (b > 0) ? a / b : 0}')" "${ra[*]}" "${rb[*]}"
done
