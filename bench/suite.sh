#!/usr/bin/env bash
# suite.sh - the benchmark suite (issue 9): Ferrodis next to the reference redis-server,
# measured in the same run, alternating, with public tools only (redis-benchmark,
# redis-cli --pipe, optionally memtier_benchmark). Results go to BENCHMARKS.md.
#
#   bench/suite.sh                                  full run (~30 min on a 2-core VM)
#   ROUNDS=1 NSCALE=0.02 MEM_SCALE=0.01 bench/suite.sh   smoke test of every part (~3 min)
#   PARTS=throughput ONLY=strings,LPOP bench/suite.sh     a subset
#
# The script starts its own servers on 127.0.0.1 (never touches a server it did not
# start; FLUSHALL only goes to its own servers): Ferrodis as
#   $BIN --worker-threads 1 --save '' --appendonly no --dir <tmp>
# and redis-server as
#   redis-server --save '' --appendonly no --dir <tmp>
# and stops them on exit (trap), also on error or Ctrl-C.
#
# Parts (PARTS, comma list; default all four):
#   throughput  every command family (strings, lists, hashes, sets, sorted sets, streams,
#               HyperLogLog, bitmaps, geo, scripting, pub/sub) with redis-benchmark,
#               CLIENTS clients unpipelined and pipelined PIPELINE deep; value-carrying
#               commands with 64-byte and 1 KiB values. The client (redis-benchmark,
#               redis-cli) is pinned to CLIENT_CPU, each server (all threads,
#               taskset -a -pc) to SERVER_CPU; Ferrodis runs one worker thread (Redis's
#               model). Every scenario runs on Ferrodis, then on Redis, ROUNDS times.
#               Per sample: ops/s and p50/p99 (redis-benchmark's summary), p99.9 (its
#               "Latency by percentile distribution", first line >= 99.9%), and server
#               CPU time per request (user+sys of all threads from /proc/PID/stat).
#               Table: medians over rounds; ratio = median of the per-round ratios F/R
#               (range in brackets); CPU ratio < 1 means Ferrodis spends less CPU.
#               Reads are seeded first (redis-cli --pipe) so that they hit.
#   memory      used_memory (INFO) and VmRSS growth per element, freshly started servers,
#               loads sent with redis-cli --pipe: 1M strings key:%012d with 64-byte
#               values, SMALL_KEYS lru:%d keys with 3-byte values, 100k hashes / sets
#               (strings and integers) / sorted sets / lists / streams of 10 small
#               elements, one hash / set / sorted set / list / stream of 1M elements.
#               Measured once per load (not in rounds): the growth is deterministic up to
#               the allocator (Ferrodis's strings within ~1%); below ~100k elements the
#               per-element figures are dominated by noise of a few hundred KB.
#   scaling     unpinned: Ferrodis --worker-threads 1 and 2, Redis io-threads 1 and
#               io-threads 2 + io-threads-do-reads yes, on SET/GET pipelined and MSET of
#               10 random keys, redis-benchmark --threads SCALE_THREADS -c SCALE_CLIENTS
#               -P PIPELINE. On 2 cores the client competes with the server for CPU.
#   memtier     memtier_benchmark 1:10 SET:GET, 64-byte values, if it is installed; if
#               not, prints why and skips (Debian 12 has no memtier package).
#
# What redis-benchmark cannot express, and what the suite does instead:
#   - SETBIT at a random offset: __rand_int__ is zero-padded to 12 digits and Redis
#     rejects integers with leading zeros, so SETBIT sets bit 1000 of random keys bits:<n>
#     (BITCOUNT counts a 12,500-byte bitmap).
#   - geo: 13.__rand_int__ / 52.__rand_int__ with -r 10^12 are random points in a 1 x 1
#     degree square; GEOSEARCH (radius 1 km, COUNT 10, random centre) runs on 100k
#     points seeded there.
#   - PUBLISH has no subscriber (a redis-cli reader cannot keep up with -P 16): it
#     measures the publish path, not delivery.
#   - LPOP/RPOP/SPOP/ZPOPMIN pop from one key seeded with -n + 1000 elements, so every
#     pop hits; LRANGE, ZRANGE, HGET, SISMEMBER read seeded keys (redis-benchmark's own
#     -t lrange_* would count its LPUSH fill in the server CPU).
#   - one pass gives ops/s and latencies: redis-benchmark without --csv prints the
#     throughput, p50/p99 and the percentile distribution (for p99.9) together.
#
# Knobs (environment, defaults in brackets):
#   BIN [target/release/ferrodis-server]  the Ferrodis binary (cargo build --release)
#   PARTS [throughput,memory,scaling,memtier]
#   ROUNDS [3]          alternating rounds (throughput and scaling); medians over rounds
#   NSCALE [1]          multiplies every redis-benchmark -n (0.02 = smoke test)
#   ONLY []             comma list: scenario names (SET_64_P16), command names (SET: all
#                       its variants) or families (strings, lists, hashes, sets, zsets,
#                       streams, hll, bitmaps, geo, scripting, pubsub); throughput only
#   PORTS [7600-7699]   port range; the suite uses its first two ports (Ferrodis, Redis)
#   OUTDIR [/tmp/ferrodis-suite.<date>.XXXX]  raw redis-benchmark outputs, samples.tsv,
#                       memory.tsv, scaling.tsv, results.md (the tables)
#   CLIENTS [50] PIPELINE [16] KEYSPACE [100000]   redis-benchmark -c, -P, -r
#   CLIENT_CPU [0] SERVER_CPU [1]    pinning for throughput and memory (needs 2 CPUs)
#   QUIET_PCT [20] QUIET_MAX [10]    before each sample wait (at most QUIET_MAX s) until
#                       other processes use < QUIET_PCT% of one core; 0 disables
#   QUIET_TOTAL [120]   stop waiting for quiet once the waits add up to this many seconds
#                       (keeps a run on a busy machine within its time estimate)
#   BG_RETRY [30]       redo a sample once if other processes used more than BG_RETRY% of
#                       one core during it; rows with samples above 25% get a '*'
#   RUN_TIMEOUT [300]   seconds per redis-benchmark run or bulk load
#   MEM_SCALE [1]       multiplies the memory part's key/element counts
#   SMALL_KEYS [10000000 x MEM_SCALE]  lru:%d keys of the memory part
#   SCALE_CLIENTS [100] SCALE_THREADS [2]   redis-benchmark -c / --threads for scaling
#   KEEP_GEN [0]        keep the generated RESP load files in OUTDIR/gen
# Exit: 0 when every sample worked, 1 otherwise (failed samples are listed).
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
ROOT=$(pwd)
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"
CMDLINE="bench/suite.sh${*:+ $*}"
KNOBS=(BIN PARTS ROUNDS NSCALE ONLY PORTS OUTDIR CLIENTS PIPELINE KEYSPACE CLIENT_CPU SERVER_CPU QUIET_PCT QUIET_MAX
    QUIET_TOTAL BG_RETRY RUN_TIMEOUT MEM_SCALE SMALL_KEYS SCALE_CLIENTS SCALE_THREADS KEEP_GEN)
SETKNOBS=''
for v in "${KNOBS[@]}"; do [ -n "${!v+x}" ] && SETKNOBS+="$v=${!v} "; done

BIN=${BIN:-$ROOT/target/release/ferrodis-server}
PARTS=${PARTS:-throughput,memory,scaling,memtier}
ROUNDS=${ROUNDS:-3} NSCALE=${NSCALE:-1} ONLY=${ONLY:-} PORTS=${PORTS:-7600-7699}
CLIENTS=${CLIENTS:-50} PIPELINE=${PIPELINE:-16} KEYSPACE=${KEYSPACE:-100000}
CLIENT_CPU=${CLIENT_CPU:-0} SERVER_CPU=${SERVER_CPU:-1}
QUIET_PCT=${QUIET_PCT:-20} QUIET_MAX=${QUIET_MAX:-10} QUIET_TOTAL=${QUIET_TOTAL:-120} BG_RETRY=${BG_RETRY:-30}
RUN_TIMEOUT=${RUN_TIMEOUT:-300} MEM_SCALE=${MEM_SCALE:-1}
SMALL_KEYS=${SMALL_KEYS:-$(python3 -c "print(max(1000, int(10000000 * $MEM_SCALE)))" 2>/dev/null || echo 10000000)}
SCALE_CLIENTS=${SCALE_CLIENTS:-100} SCALE_THREADS=${SCALE_THREADS:-2} KEEP_GEN=${KEEP_GEN:-0}

for t in redis-server redis-benchmark redis-cli taskset python3 timeout awk; do
    command -v "$t" >/dev/null || die "'$t' is missing (Debian: apt-get install redis-server redis-tools util-linux python3 coreutils gawk)"
done
[ -x "$BIN" ] || die "Ferrodis binary $BIN is missing (cargo build --release, or BIN=/path/to/ferrodis-server)"
[[ $PORTS =~ ^([0-9]+)-([0-9]+)$ ]] || die "PORTS must look like 7600-7699"
PORT_F=${BASH_REMATCH[1]} PORT_R=$((BASH_REMATCH[1] + 1))
[ "$PORT_R" -le "${BASH_REMATCH[2]}" ] || die "PORTS needs at least two ports"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
python3 -c "assert float('$NSCALE') > 0 and float('$MEM_SCALE') > 0" 2>/dev/null || die "NSCALE and MEM_SCALE must be positive numbers"
part() { [[ ",$PARTS," == *",$1,"* ]]; }
NCPU=$(nproc)
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)
PIN=1
if [ "$NCPU" -lt 2 ] || [ "$CLIENT_CPU" = "$SERVER_CPU" ]; then
    echo "WARNING: pinning disabled ($NCPU CPU(s), client CPU $CLIENT_CPU, server CPU $SERVER_CPU)"; PIN=0
fi
CPIN=(); [ "$PIN" = 1 ] && CPIN=(taskset -c "$CLIENT_CPU")

OUTDIR=${OUTDIR:-$(mktemp -d "/tmp/ferrodis-suite.$(date +%Y%m%d-%H%M%S).XXXX")}
mkdir -p "$OUTDIR/raw" || die "cannot create $OUTDIR"
GEN=$OUTDIR/gen; mkdir -p "$GEN"
WORK=$(mktemp -d /tmp/ferrodis-suite-work.XXXXXX)
SAMPLES=$OUTDIR/samples.tsv MEMTSV=$OUTDIR/memory.tsv SCALETSV=$OUTDIR/scaling.tsv
RESULTS=$OUTDIR/results.md
: >"$SAMPLES"; : >"$MEMTSV"; : >"$SCALETSV"
LIB=$ROOT/bench/suitelib.py
FAILS=0 T0=$SECONDS

# --- servers ------------------------------------------------------------------------
declare -A SPID=([F]="" [R]="") PORT=([F]=$PORT_F [R]=$PORT_R) STATE=([F]="" [R]="") LABEL=([F]=Ferrodis [R]=Redis)
cleanup() {
    local side
    if [ -n "${CHILD:-}" ]; then kill "$CHILD" 2>/dev/null || true; fi
    for side in F R; do
        if [ -n "${SPID[$side]}" ]; then kill -9 "${SPID[$side]}" 2>/dev/null || true; wait "${SPID[$side]}" 2>/dev/null || true; fi
    done
    rm -rf "$WORK"
    [ "$KEEP_GEN" = 1 ] || rm -rf "$GEN"
}
trap cleanup EXIT
trap 'echo; echo "INTERRUPTED"; exit 130' INT TERM

# run_bg CMD...: run a long client command in the background and wait for it, so that a
# TERM/INT trap runs at once (bash defers traps while a foreground child runs)
CHILD=''
run_bg() { local rc=0; "$@" & CHILD=$!; wait "$CHILD" || rc=$?; CHILD=''; return "$rc"; }
rcli() { local p=$1; shift; timeout -k 2 "${RCLI_TIMEOUT:-30}" redis-cli -h 127.0.0.1 -p "$p" "$@" 2>&1; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# start_server F|R PIN(0|1) [extra server args...]: a fresh server on PORT[side]
start_server() {
    local side=$1 pin=$2 port=${PORT[$1]} dir pid i
    shift 2
    [ -z "${SPID[$side]}" ] || die "internal: ${LABEL[$side]} already running"
    port_busy "$port" && die "port $port is already in use by another process (choose PORTS=...)"
    dir=$WORK/$side.$RANDOM; mkdir -p "$dir"
    local cmd
    if [ "$side" = F ]; then
        cmd=("$BIN" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" "$@")
    else
        cmd=(redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" "$@")
    fi
    if [ "$pin" = 1 ] && [ "$PIN" = 1 ]; then
        taskset -c "$SERVER_CPU" "${cmd[@]}" >"$dir/log" 2>&1 &
    else
        "${cmd[@]}" >"$dir/log" 2>&1 &
    fi
    pid=$!
    SPID[$side]=$pid
    for i in $(seq 1 200); do
        [ "$(rcli "$port" PING)" = PONG ] && break
        kill -0 "$pid" 2>/dev/null || { cat "$dir/log"; die "${LABEL[$side]} exited at startup"; }
        [ "$i" -lt 200 ] || die "${LABEL[$side]} does not answer on port $port"
        sleep 0.05
    done
    # the server answering must be ours (never benchmark or FLUSHALL someone else's)
    local owner
    owner=$(rcli "$port" INFO server | tr -d '\r' | awk -F: '$1=="process_id"{print $2}')
    [ "$owner" = "$pid" ] || die "port $port is answered by pid '${owner}', not by our ${LABEL[$side]} (pid $pid)"
    if [ "$pin" = 1 ] && [ "$PIN" = 1 ]; then
        taskset -a -pc "$SERVER_CPU" "$pid" >/dev/null || die "cannot pin pid $pid"
    fi
    STATE[$side]=-
}
stop_server() {
    local side=$1 pid=${SPID[$1]} i
    [ -n "$pid" ] || return 0
    rcli "${PORT[$side]}" SHUTDOWN NOSAVE >/dev/null || true
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    SPID[$side]=
}
server_alive() { [ -n "${SPID[$1]}" ] && [ "$(rcli "${PORT[$1]}" PING)" = PONG ]; }
info_field() { rcli "$1" INFO "$2" | tr -d '\r' | awk -F: -v f="$3" '$1==f{print $2}'; }

# --- CPU accounting (as in ../shared/bench/compare.sh) --------------------------------
proc_ticks() { # utime+stime of pid $1 (all threads); with $2=1 plus reaped children's
    [ -r "/proc/$1/stat" ] || { echo 0; return; }
    local s; s=$(<"/proc/$1/stat"); s=${s##*) }
    # shellcheck disable=SC2086  # split the stat fields on purpose
    set -- $s "${2:-0}"
    if [ "${!#}" = 1 ]; then echo $((${12} + ${13} + ${14} + ${15})); else echo $((${12} + ${13})); fi
}
cpu_snap() { # sets S_BUSY S_TOTAL S_OURS (server pid $1 + this script's children)
    local _c u n s i w q sq st _rest
    read -r _c u n s i w q sq st _rest </proc/stat
    S_BUSY=$((u + n + s)) S_TOTAL=$((u + n + s + i + w + q + sq + st))
    S_OURS=$(($(proc_ticks "$1") + $(proc_ticks $$ 1)))
}
bg_pct() { # % of one core used by other processes since busy0 total0 ours0
    awk -v b=$((S_BUSY - $1 - (S_OURS - $3))) -v t=$((S_TOTAL - $2)) -v c="$NCPU" \
        'BEGIN { x = t > 0 ? 100 * b / (t / c) : 0; if (x < 0) x = 0; printf "%.0f", x }'
}
WAITED_ALL=0
wait_quiet() { # pid: wait until other processes are quiet; sets WAITED
    WAITED=0
    [ "$QUIET_MAX" -gt 0 ] || return 0
    if [ "$WAITED_ALL" -ge "$QUIET_TOTAL" ]; then
        [ "$WAITED_ALL" -lt 999999 ] && echo "      (waited ${WAITED_ALL}s for quiet in all: not waiting any more; the machine is busy)"
        WAITED_ALL=999999
        return 0
    fi
    local b0 t0 o0 start=$SECONDS
    while :; do
        cpu_snap "$1"; b0=$S_BUSY t0=$S_TOTAL o0=$S_OURS; sleep 0.5; cpu_snap "$1"
        [ "$(bg_pct "$b0" "$t0" "$o0")" -lt "$QUIET_PCT" ] && break
        WAITED=$((SECONDS - start + 1))
        [ $((SECONDS - start)) -ge "$QUIET_MAX" ] && break
    done
    WAITED_ALL=$((WAITED_ALL + WAITED))
}

# --- loads (RESP files for redis-cli --pipe, generated once, cached in $GEN) ----------
gen_file() { # gen_file KIND ARGS... -> prints the file path
    local f
    f=$GEN/$(echo "$*" | tr -c 'A-Za-z0-9.\n' '_').resp
    if [ ! -s "$f.count" ]; then
        python3 "$LIB" gen "$f" "$@" || die "generator failed: $*"
    fi
    echo "$f"
}
load_pipe() { # port file -> 0 if every command of file was answered without error
    local out n
    n=$(<"$2.count")
    out=$(timeout -k 5 "$RUN_TIMEOUT" "${CPIN[@]}" redis-cli -h 127.0.0.1 -p "$1" --pipe <"$2" 2>&1) || true
    LOAD_MSG=$(echo "$out" | tail -1)
    [[ "$out" == *"errors: 0, replies: $n"* ]]
}
flush_own() { # FLUSHALL one of *our* servers (started by start_server above)
    local side=$1
    [ -n "${SPID[$side]}" ] || die "internal: flush of a server we did not start"
    [ "$(RCLI_TIMEOUT=120 rcli "${PORT[$side]}" FLUSHALL)" = OK ] || die "FLUSHALL failed on ${LABEL[$side]}"
}
# seed specs: - (empty) | str:SIZE | hash:COUNT:SIZE | set:COUNT | zset:COUNT |
#   list:COUNT:SIZE | stream:COUNT:SIZE | bits:BYTES | geo:COUNT | hashes:COUNT:FIELDS
seed_file() {
    local a b c
    IFS=: read -r a b c <<<"$1"
    case $a in
        str) gen_file str 'key:%012d' "$KEYSPACE" "$b" ;;
        hash) gen_file hash myhash "$b" "$c" ;;
        set) gen_file set myset "$b" ;;
        zset) gen_file zset myzset "$b" ;;
        list) gen_file list mylist "$b" "$c" ;;
        stream) gen_file stream mystream "$b" "$c" ;;
        bits) gen_file bits bits "$b" ;;
        geo) gen_file geo geo "$b" ;;
        hashes) gen_file hashes 'h:%012d' "$b" "$c" ;;
        *) die "internal: unknown seed $1" ;;
    esac
}
ensure_seed() { # side spec: leave the server holding exactly the seed `spec`
    local side=$1 spec=$2 f
    [ "${STATE[$side]}" = "$spec" ] && return 0
    flush_own "$side"
    STATE[$side]=-
    [ "$spec" = - ] && return 0
    f=$(seed_file "$spec")
    load_pipe "${PORT[$side]}" "$f" || { SEED_ERR="seeding $spec failed: $LOAD_MSG"; return 1; }
    STATE[$side]=$spec
}

# --- throughput scenarios ---------------------------------------------------------------
# family|command|sizes|seed|ro/rw|check (CMD ARGS:min after the run)|-r|n unpipelined|n pipelined|command
# {V}: the value (64 B or 1 KiB); {S}: its size in seeds; {N}: -n + 1000 (pops never hit
# an empty key); {K}: KEYSPACE; {SHA}: the script of EVALSHA. -n values aim at ~2 s per
# sample on the 2-core VM (1 KiB variants pipelined: -n x 0.4).
MSET10=$(for _ in 1 2 3 4 5 6 7 8 9 10; do printf ' key:__rand_int__ {V}'; done)
SCEN=(
    "strings|SET|64,1k|-|rw|DBSIZE:1|-|100000|800000|SET key:__rand_int__ {V}"
    "strings|GET|64,1k|str:{S}|ro|-|-|100000|800000|GET key:__rand_int__"
    "strings|GETRANGE|-|str:64|ro|-|-|100000|800000|GETRANGE key:__rand_int__ 0 31"
    "scripting|EVALSHA|-|str:64|ro|-|-|100000|400000|EVALSHA {SHA} 1 key:__rand_int__"
    "strings|INCR|-|-|rw|DBSIZE:1|-|100000|800000|INCR counter:__rand_int__"
    "strings|MSET|64,1k|-|rw|DBSIZE:1|-|60000|150000|MSET$MSET10"
    "lists|LPUSH|64,1k|-|rw|LLEN mylist:1|-|100000|800000|LPUSH mylist {V}"
    "lists|RPUSH|64,1k|-|rw|LLEN mylist:1|-|100000|800000|RPUSH mylist {V}"
    "lists|LPOP|-|list:{N}:64|rw|LLEN mylist:1|-|100000|800000|LPOP mylist"
    "lists|RPOP|-|list:{N}:64|rw|LLEN mylist:1|-|100000|800000|RPOP mylist"
    "lists|LRANGE_100|-|list:600:64|ro|-|-|50000|100000|LRANGE mylist 0 99"
    "lists|LRANGE_600|-|list:600:64|ro|-|-|15000|25000|LRANGE mylist 0 599"
    "hashes|HSET|64,1k|-|rw|HLEN myhash:1|-|100000|800000|HSET myhash field:__rand_int__ {V}"
    "hashes|HGET|-|hash:{K}:64|ro|-|-|100000|800000|HGET myhash field:__rand_int__"
    "hashes|HGETALL|-|hashes:{K}:10|ro|-|-|100000|400000|HGETALL h:__rand_int__"
    "sets|SADD|-|-|rw|SCARD myset:1|-|100000|800000|SADD myset element:__rand_int__"
    "sets|SPOP|-|set:{N}|rw|SCARD myset:1|-|100000|800000|SPOP myset"
    "sets|SISMEMBER|-|set:{K}|ro|-|-|100000|800000|SISMEMBER myset element:__rand_int__"
    "zsets|ZADD|-|-|rw|ZCARD myzset:1|-|100000|600000|ZADD myzset __rand_int__ element:__rand_int__"
    "zsets|ZRANGE|-|zset:{K}|ro|-|-|80000|300000|ZRANGE myzset 0 9 WITHSCORES"
    "zsets|ZPOPMIN|-|zset:{N}|rw|ZCARD myzset:1|-|100000|600000|ZPOPMIN myzset"
    "streams|XADD|64,1k|-|rw|XLEN mystream:1|-|100000|600000|XADD mystream * f {V}"
    "streams|XRANGE|-|stream:1000:64|ro|-|-|100000|400000|XRANGE mystream - + COUNT 10"
    "hll|PFADD|-|-|rw|EXISTS hll:1|-|100000|800000|PFADD hll element:__rand_int__"
    "bitmaps|SETBIT|-|-|rw|DBSIZE:1|-|100000|800000|SETBIT bits:__rand_int__ 1000 1"
    "bitmaps|BITCOUNT|-|bits:12500|ro|-|-|100000|400000|BITCOUNT bits"
    "geo|GEOADD|-|-|rw|ZCARD geo:1|1000000000000|100000|400000|GEOADD geo 13.__rand_int__ 52.__rand_int__ member:__rand_int__"
    "geo|GEOSEARCH|-|geo:{K}|ro|-|1000000000000|30000|60000|GEOSEARCH geo FROMLONLAT 13.__rand_int__ 52.__rand_int__ BYRADIUS 1 km ASC COUNT 10"
    "pubsub|PUBLISH|-|-|ro|-|-|100000|800000|PUBLISH channel {V}"
)
SCRIPT="return redis.call('GET', KEYS[1])"
selected() { # family command name
    [ -z "$ONLY" ] && return 0
    [[ ",$ONLY," == *",$1,"* || ",$ONLY," == *",$2,"* || ",$ONLY," == *",$3,"* ]]
}
# expand the table into samples: name|family|size|pipeline|n|seed|mode|check|r|command
EXP=()
for row in "${SCEN[@]}"; do
    IFS='|' read -r fam cmdname sizes seed mode check r n1 n16 command <<<"$row"
    for size in ${sizes//,/ }; do
        for pl in 1 "$PIPELINE"; do
            name=$cmdname
            [ "$sizes" = - ] || name+=_${size^^}
            [ "$pl" = 1 ] || name+=_P$pl
            selected "$fam" "$cmdname" "$name" || continue
            bytes=64; [ "$size" = 1k ] && bytes=1024
            n=$n1; [ "$pl" = 1 ] || n=$n16
            n=$(awk -v n="$n" -v s="$NSCALE" -v k="$size" -v pl="$pl" 'BEGIN { if (k == "1k" && pl > 1) n *= 0.4; x = int(n * s); print (x < 1000 ? 1000 : x) }')
            sd=${seed//\{S\}/$bytes}; sd=${sd//\{N\}/$((n + 1000))}; sd=${sd//\{K\}/$KEYSPACE}
            [ "$r" = - ] && r=$KEYSPACE
            EXP+=("$name|$fam|$bytes|$pl|$n|$sd|$mode|$check|$r|$command")
        done
    done
done
part throughput && [ ${#EXP[@]} -eq 0 ] && die "ONLY=$ONLY selects no scenario"

# --- estimate --------------------------------------------------------------------------
EST_T=0 EST_M=0 EST_S=0
part throughput && EST_T=$(awk -v k=${#EXP[@]} -v r="$ROUNDS" -v s="$NSCALE" 'BEGIN { printf "%d", k * r * 2 * (1.6 * s + 0.8) + 20 }')
part memory && EST_M=$(awk -v m="$MEM_SCALE" -v sk="$SMALL_KEYS" 'BEGIN { printf "%d", 10 + 150 * m + sk / 1e6 * 9 }')
part scaling && EST_S=$(awk -v r="$ROUNDS" -v s="$NSCALE" 'BEGIN { printf "%d", r * 4 * (3 * (3.5 * s + 0.5) + 2) }')
EST=$((EST_T + EST_M + EST_S))

say "Ferrodis benchmark suite  $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "command: $SETKNOBS$CMDLINE"
echo "knobs:   PARTS=$PARTS ROUNDS=$ROUNDS NSCALE=$NSCALE ONLY=${ONLY:-(all)} CLIENTS=$CLIENTS PIPELINE=$PIPELINE KEYSPACE=$KEYSPACE MEM_SCALE=$MEM_SCALE SMALL_KEYS=$SMALL_KEYS"
echo "Ferrodis: $BIN ($("$BIN" --version 2>/dev/null | head -1 || echo '?'))"
echo "Redis:    $(command -v redis-server) ($(redis-server --version | head -1))"
echo "client:   $(redis-benchmark --version 2>&1 | head -1); host: $NCPU CPUs, loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$PIN" = 1 ]; then
    echo "pinning:  client on CPU $CLIENT_CPU, each server (all threads) on CPU $SERVER_CPU (throughput, memory); scaling is unpinned"
fi
echo "results:  $OUTDIR"
echo "estimate: ~$((EST / 60)) min $((EST % 60)) s (throughput ${EST_T} s for ${#EXP[@]} scenarios x $ROUNDS rounds x 2 servers, memory ${EST_M} s, scaling ${EST_S} s) on a quiet 2-core VM"
load1=$(cut -d' ' -f1 /proc/loadavg)
awk -v l="$load1" 'BEGIN { exit !(l > 0.5) }' && echo "WARNING: loadavg $load1 - other processes are running; samples measured under load get a '*'"

# --- throughput ---------------------------------------------------------------------------
run_sample() { # side expanded-row round redo
    local side=$1 def=$2 round=$3 redo=$4
    local name fam bytes pl n seed mode check r command
    IFS='|' read -r name fam bytes pl n seed mode check r command <<<"$def"
    local port=${PORT[$side]} pid=${SPID[$side]} out=$OUTDIR/raw/$name.$side.r$round.$redo.txt
    local st=ok rps=NA p50=NA p99=NA p999=NA cpu=NA BG=NA secs=NA rc args val
    val=$(printf "%${bytes}s" "" | tr ' ' v)
    read -ra args <<<"$command"
    args=("${args[@]//\{V\}/$val}")
    args=("${args[@]//\{SHA\}/$SHA}")
    WAITED=0
    SEED_ERR=
    if ! ensure_seed "$side" "$seed"; then
        st="seed"; echo "$SEED_ERR" >"$out"
    else
        wait_quiet "$pid"
        cpu_snap "$pid"
        local b0=$S_BUSY t0=$S_TOTAL o0=$S_OURS srv0 ns0
        srv0=$(proc_ticks "$pid"); ns0=$(date +%s%N)
        rc=0
        run_bg timeout -k 5 "$RUN_TIMEOUT" "${CPIN[@]}" redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -P "$pl" \
            -r "$r" -n "$n" -e "${args[@]}" >"$out" 2>&1 || rc=$?
        secs=$(awk -v a="$ns0" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
        cpu=$(awk -v a="$srv0" -v b="$(proc_ticks "$pid")" -v n="$n" -v hz="$HZ" 'BEGIN { printf "%.2f", (b - a) * 1e6 / hz / n }')
        cpu_snap "$pid"
        BG=$(bg_pct "$b0" "$t0" "$o0")
        read -r rps p50 p99 p999 < <(python3 "$LIB" parse "$out")
        if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then st=timeout
        elif grep -q 'Error from server' "$out"; then st="error: $(grep -m1 'Error from server' "$out" | cut -c1-80)"
        elif [ "$rps" = NA ]; then st="rc=$rc, no result"
        fi
        STATE[$side]=dirty
        [ "$mode" = ro ] && [ "$st" = ok ] && STATE[$side]=$seed
        if [ "$st" = ok ] && [ "$check" != - ]; then # catch a server that answers without doing the work
            local ccmd=${check%:*} cmin=${check##*:} v
            # shellcheck disable=SC2086  # ccmd is a word list on purpose
            v=$(rcli "$port" $ccmd)
            if ! [[ $v =~ ^[0-9]+$ ]] || [ "$v" -lt "$cmin" ]; then st="check: $ccmd = $v (want >= $cmin)"; fi
        fi
    fi
    [ "$st" = ok ] || server_alive "$side" || die "${LABEL[$side]} died during $name (see $out)"
    LAST_ST=$st LAST_BG=$BG
    SAMPLE_TAIL=$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$rps" "$p50" "$p99" "$p999" "$cpu" "$BG" "$n" "$secs")
    SAMPLE_HEAD=$(printf '%s\t%s\t%s' "$name" "$side" "$round")
    printf '  r%-2s %-16s %-8s %10s ops/s  p50 %6s  p99 %6s  p99.9 %6s ms  cpu %6s us/req  %5ss  bg %3s%%%s%s\n' \
        "$round" "$name" "${LABEL[$side]}" "$rps" "$p50" "$p99" "$p999" "$cpu" "$secs" "$BG" \
        "$([ "$WAITED" -gt 0 ] && echo "  (waited ${WAITED}s for quiet)")" "$([ "$st" = ok ] || echo "  FAILED: $st")"
}
run_one() { # one sample; redone once when other processes used the CPU during it
    run_sample "$@" 0
    if [ "$LAST_ST" = ok ] && [ "$LAST_BG" != NA ] && [ "$LAST_BG" -gt "$BG_RETRY" ]; then
        echo "      ^ other processes used ${LAST_BG}% of a core: redoing this sample once (the first one is kept as 'redo')"
        printf '%s\tredo\t%s\n' "$SAMPLE_HEAD" "$SAMPLE_TAIL" >>"$SAMPLES"
        run_sample "$@" 1
    fi
    [ "$LAST_ST" = ok ] || FAILS=$((FAILS + 1))
    printf '%s\t%s\t%s\n' "$SAMPLE_HEAD" "$([ "$LAST_ST" = ok ] && echo ok || echo fail)" "$SAMPLE_TAIL" >>"$SAMPLES"
}

TP_TABLE='' MEM_TABLE='' SCALE_TABLE='' MEMTIER_NOTE=''
if part throughput; then
    say "throughput: ${#EXP[@]} scenarios x $ROUNDS rounds, order per scenario: Ferrodis then Redis"
    start_server F 1 --worker-threads 1
    start_server R 1
    SHA=$(rcli "$PORT_F" SCRIPT LOAD "$SCRIPT")
    [ "$(rcli "$PORT_R" SCRIPT LOAD "$SCRIPT")" = "$SHA" ] || die "SCRIPT LOAD differs between the servers"
    for side in F R; do # warm-up, discarded
        timeout -k 5 "$RUN_TIMEOUT" "${CPIN[@]}" redis-benchmark -h 127.0.0.1 -p "${PORT[$side]}" -c "$CLIENTS" \
            -r "$KEYSPACE" -n 20000 -t set,get -d 64 -q >/dev/null 2>&1 || die "warm-up failed on ${LABEL[$side]}"
        STATE[$side]=dirty
    done
    for round in $(seq 1 "$ROUNDS"); do
        echo "-- round $round/$ROUNDS (loadavg $(cut -d' ' -f1-3 /proc/loadavg), $((SECONDS - T0)) s elapsed)"
        for def in "${EXP[@]}"; do
            for side in F R; do run_one "$side" "$def" "$round"; done
        done
    done
    stop_server F; stop_server R
    TP_TABLE=$(python3 "$LIB" report "$SAMPLES")
fi

# --- memory ------------------------------------------------------------------------------
if part memory; then
    sc() { python3 -c "print(max(100, int($1 * $MEM_SCALE)))"; }
    K1M=$(sc 1000000) K100K=$(sc 100000)
    # name|generator args|keys|elements
    MEMLOADS=(
        "strings key:%012d 64 B|str key:%012d $K1M 64|$K1M|$K1M"
        "strings lru:%d 3 B|str lru:%d $SMALL_KEYS 3|$SMALL_KEYS|$SMALL_KEYS"
        "hashes x 10 fields|hashes h:%d $K100K 10|$K100K|$((K100K * 10))"
        "sets x 10 strings|sets s:%d $K100K 10|$K100K|$((K100K * 10))"
        "sets x 10 integers|intsets i:%d $K100K 10|$K100K|$((K100K * 10))"
        "zsets x 10|zsets z:%d $K100K 10|$K100K|$((K100K * 10))"
        "lists x 10|lists l:%d $K100K 10|$K100K|$((K100K * 10))"
        "streams x 10 entries|streams x:%d $K100K 10|$K100K|$((K100K * 10))"
        "1 hash x $K1M fields|hash bighash $K1M 8|1|$K1M"
        "1 set x $K1M|set bigset $K1M|1|$K1M"
        "1 zset x $K1M|zset bigzset $K1M|1|$K1M"
        "1 list x $K1M|list biglist $K1M 8|1|$K1M"
        "1 stream x $K1M entries|stream bigstream $K1M 8|1|$K1M"
    )
    say "memory: ${#MEMLOADS[@]} loads, each into a freshly started Ferrodis then Redis (used_memory and VmRSS growth)"
    for def in "${MEMLOADS[@]}"; do
        IFS='|' read -r mname margs mkeys melems <<<"$def"
        # shellcheck disable=SC2086  # margs is a word list on purpose
        f=$(gen_file $margs)
        for side in F R; do
            if [ "$side" = F ]; then start_server F 1 --worker-threads 1; else start_server R 1; fi
            port=${PORT[$side]} pid=${SPID[$side]}
            # first use of a --pipe connection and of the commands, outside the measurement
            # shellcheck disable=SC2016  # RESP, not expansions
            printf '*3\r\n$3\r\nSET\r\n$4\r\nwarm\r\n$1\r\nx\r\n*2\r\n$3\r\nDEL\r\n$4\r\nwarm\r\n' |
                redis-cli -h 127.0.0.1 -p "$port" --pipe >/dev/null 2>&1 || true
            sleep 0.5
            u0=$(info_field "$port" memory used_memory) r0=$(awk '/^VmRSS:/{print $2 * 1024}' "/proc/$pid/status")
            ns0=$(date +%s%N)
            if ! load_pipe "$port" "$f"; then
                echo "  $mname ${LABEL[$side]}: load FAILED: $LOAD_MSG"; FAILS=$((FAILS + 1)); stop_server "$side"; continue
            fi
            secs=$(awk -v a="$ns0" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
            sleep 1
            u1=$(info_field "$port" memory used_memory) r1=$(awk '/^VmRSS:/{print $2 * 1024}' "/proc/$pid/status")
            dbs=$(rcli "$port" DBSIZE)
            [ "$dbs" = "$mkeys" ] || { echo "  $mname ${LABEL[$side]}: DBSIZE $dbs, expected $mkeys"; FAILS=$((FAILS + 1)); }
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mname" "$side" "$mkeys" "$melems" "$u0" "$u1" "$r0" "$r1" "$secs" >>"$MEMTSV"
            awk -v n="$mname" -v s="${LABEL[$side]}" -v e="$melems" -v u0="$u0" -v u1="$u1" -v r0="$r0" -v r1="$r1" -v t="$secs" \
                'BEGIN { printf "  %-26s %-8s used_memory %8.1f B/elem   VmRSS %8.1f B/elem   load %s s\n", n, s, (u1-u0)/e, (r1-r0)/e, t }'
            stop_server "$side"
        done
        [ "$KEEP_GEN" = 1 ] || rm -f "$f" "$f.count"
    done
    MEM_TABLE=$(python3 "$LIB" memreport "$MEMTSV")
fi

# --- scaling --------------------------------------------------------------------------------
if part scaling; then
    say "scaling: worker threads 1 and 2 (unpinned; redis-benchmark --threads $SCALE_THREADS -c $SCALE_CLIENTS -P $PIPELINE)"
    echo "NOTE: this VM has $NCPU CPUs: the benchmark client runs on the same cores as the server's threads,"
    echo "      so the 2-thread rows measure server + client sharing $NCPU cores, not the server's own ceiling."
    CONFIGS=(
        "Ferrodis w1|F|--worker-threads 1"
        "Ferrodis w2|F|--worker-threads 2"
        "Redis io1|R|--io-threads 1"
        "Redis io2|R|--io-threads 2 --io-threads-do-reads yes"
    )
    n_sg=$(awk -v s="$NSCALE" 'BEGIN { x = int(800000 * s); print (x < 1000 ? 1000 : x) }')
    n_ms=$(awk -v s="$NSCALE" 'BEGIN { x = int(200000 * s); print (x < 1000 ? 1000 : x) }')
    V64=$(printf '%64s' "" | tr ' ' v)
    MSETARGS=(MSET); for _ in 1 2 3 4 5 6 7 8 9 10; do MSETARGS+=(key:__rand_int__ "$V64"); done
    for round in $(seq 1 "$ROUNDS"); do
        echo "-- round $round/$ROUNDS"
        for cfg in "${CONFIGS[@]}"; do
            IFS='|' read -r cname side cargs <<<"$cfg"
            # shellcheck disable=SC2086  # cargs is a word list on purpose
            start_server "$side" 0 $cargs
            port=${PORT[$side]} pid=${SPID[$side]}
            for w in SET_P16 GET_P16 MSET_10_P16; do
                case $w in
                    SET_P16) wargs=(SET key:__rand_int__ "$V64"); n=$n_sg ;;
                    GET_P16) wargs=(GET key:__rand_int__); n=$n_sg
                        load_pipe "$port" "$(gen_file str 'key:%012d' "$KEYSPACE" 64)" || die "seeding for GET failed: $LOAD_MSG" ;;
                    MSET_10_P16) wargs=("${MSETARGS[@]}"); n=$n_ms ;;
                esac
                out=$OUTDIR/raw/scaling.${cname// /_}.$w.r$round.txt
                c0=$(proc_ticks "$pid") rc=0
                run_bg timeout -k 5 "$RUN_TIMEOUT" redis-benchmark -h 127.0.0.1 -p "$port" -c "$SCALE_CLIENTS" --threads "$SCALE_THREADS" \
                    -P "$PIPELINE" -r "$KEYSPACE" -n "$n" -e "${wargs[@]}" >"$out" 2>&1 || rc=$?
                cpu=$(awk -v a="$c0" -v b="$(proc_ticks "$pid")" -v n="$n" -v hz="$HZ" 'BEGIN { printf "%.2f", (b - a) * 1e6 / hz / n }')
                read -r rps _ < <(python3 "$LIB" parse "$out")
                st=ok
                { [ "$rc" = 0 ] && [ "$rps" != NA ] && ! grep -q 'Error from server' "$out"; } || { st=fail; FAILS=$((FAILS + 1)); }
                printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$cname" "$w" "$round" "$st" "$rps" "$cpu" >>"$SCALETSV"
                printf '  r%-2s %-12s %-12s %10s ops/s  cpu %6s us/req%s\n' "$round" "$cname" "$w" "$rps" "$cpu" "$([ "$st" = ok ] || echo "  FAILED (see $out)")"
            done
            stop_server "$side"
        done
    done
    SCALE_TABLE=$(python3 "$LIB" scalereport "$SCALETSV")
fi

# --- memtier_benchmark --------------------------------------------------------------------------
if part memtier; then
    say "memtier_benchmark"
    if ! command -v memtier_benchmark >/dev/null; then
        if command -v apt-cache >/dev/null && [ -z "$(apt-cache search memtier 2>/dev/null)" ]; then
            MEMTIER_NOTE="SKIPPED: memtier_benchmark is not installed and this system's Debian package lists have no memtier package ('apt-cache search memtier' is empty); build it from source to run this part."
        else
            MEMTIER_NOTE="SKIPPED: memtier_benchmark is not installed (apt-get install memtier-benchmark where the distribution packages it)."
        fi
        echo "$MEMTIER_NOTE"
    else
        MEMTIER_NOTE="| server | round | ops/s | p50 ms | p99 ms | p99.9 ms |
| --- | --- | ---: | ---: | ---: | ---: |"
        n_req=$(awk -v s="$NSCALE" 'BEGIN { x = int(4000 * s); print (x < 100 ? 100 : x) }')
        for round in $(seq 1 "$ROUNDS"); do
            for side in F R; do
                if [ "$side" = F ]; then start_server F 1 --worker-threads 1; else start_server R 1; fi
                out=$OUTDIR/raw/memtier.$side.r$round.txt rc=0
                run_bg timeout -k 5 "$RUN_TIMEOUT" "${CPIN[@]}" memtier_benchmark -s 127.0.0.1 -p "${PORT[$side]}" --protocol=redis \
                    -t 1 -c "$CLIENTS" -n "$n_req" --ratio=1:10 -d 64 --key-maximum="$KEYSPACE" \
                    --print-percentiles=50,99,99.9 --hide-histogram >"$out" 2>&1 || rc=$?
                line=$(awk '$1 == "Totals" { print $2, $6, $7, $8; exit }' "$out")
                if [ "$rc" != 0 ] || [ -z "$line" ]; then line="FAILED rc=$rc"; FAILS=$((FAILS + 1)); fi
                echo "  r$round ${LABEL[$side]}: ops/s p50 p99 p99.9 = $line"
                MEMTIER_NOTE+="
| ${LABEL[$side]} | $round | ${line// / | } |"
                stop_server "$side"
            done
        done
    fi
fi

# --- report ------------------------------------------------------------------------------------
{
    echo "Command: \`$SETKNOBS$CMDLINE\`"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $NCPU CPUs, Ferrodis \`$BIN\` (--worker-threads 1) vs $(redis-server --version | awk '{print $1, $2, $3}'), $(redis-benchmark --version 2>&1 | head -1), $((SECONDS - T0)) s."
    if [ -n "$TP_TABLE" ]; then
        echo
        echo "Throughput: $CLIENTS clients, -r $KEYSPACE, $([ "$PIN" = 1 ] && echo "client on CPU $CLIENT_CPU, server on CPU $SERVER_CPU" || echo "not pinned"); medians over $ROUNDS round(s); ratio = median (range) of per-round Ferrodis/Redis ops/s; CPU = server user+sys µs per request, CPU ratio = median of per-round F/R (<= 0.8 is the target); latencies in ms (F / R). _P$PIPELINE = pipelined $PIPELINE deep; _64/_1K = value size. '*' = a sample ran while other processes used > 25% of a core."
        echo
        echo "$TP_TABLE"
    fi
    if [ -n "$MEM_TABLE" ]; then
        echo
        echo "Memory: growth per element after loading into a freshly started server with redis-cli --pipe (Ferrodis / Redis)."
        echo
        echo "$MEM_TABLE"
    fi
    if [ -n "$SCALE_TABLE" ]; then
        echo
        echo "Scaling (unpinned, $NCPU CPUs shared by the server and redis-benchmark --threads $SCALE_THREADS -c $SCALE_CLIENTS -P $PIPELINE): ops/s (server CPU µs/req), medians over $ROUNDS round(s)."
        echo
        echo "$SCALE_TABLE"
    fi
    if [ -n "$MEMTIER_NOTE" ]; then
        echo
        echo "memtier_benchmark: $MEMTIER_NOTE"
    fi
} >"$RESULTS"
say "results ($OUTDIR/results.md)"
cat "$RESULTS"
[ "$FAILS" = 0 ] || { echo; echo "WARNING: $FAILS sample(s) failed - see FAILED lines above and $OUTDIR/raw"; exit 1; }
