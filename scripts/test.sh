#!/usr/bin/env bash
# Runs every Ferrodis test. On a fresh Debian 12 machine (as root, like CI) it first
# installs what the tests need: the reference redis-server and redis-tools
# (redis-cli, redis-benchmark), a C toolchain (jemalloc is built from source), the
# openssl command-line tool (tests/tls.rs makes its certificates with it) and iproute2
# (`ss`: tests/keepalive.rs reads accepted sockets' keepalive timers), and
# checks that the Rust toolchain is present. When everything is present it installs
# nothing and goes straight to the tests.
#
# Steps: cargo test --all-targets (debug profile: fast to build on 2 cores; no test
# needs release speed) and cargo test --doc, then a redis-cli smoke run and a short
# redis-benchmark against a freshly started ferrodis-server, which must finish without
# an error reply. Then the performance guard (bench/regression-check.sh: a release
# build measured side by side with redis-server, failing below ratio floors). Then scripts/docker-check.sh (the Docker image's build and run steps
# reproduced without Docker) and examples/run-all.sh (the Node.js examples, each with its
# own test; installs Node.js, npm and PostgreSQL when missing).
#
# Then the client libraries' own test suites, against Ferrodis and the reference
# redis-server (scripts/client-suites.sh; COMPATIBILITY.md).
#
# Environment: FERRODIS_BENCH_TESTS (default set,get,incr), FERRODIS_BENCH_N (default
# 100000), FERRODIS_TEST_PORT (default 7349) for the smoke/benchmark server;
# FERRODIS_SKIP_CLIENT_SUITES=1 leaves the client suites out (said so in the output).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

# ---------------------------------------------------------------- dependencies

if command -v dpkg-query >/dev/null; then
    apt_install redis-server redis-tools build-essential python3 util-linux openssl iproute2
fi

if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null; then
    die "cargo is missing: install the Rust toolchain (rustup) first"
fi

for tool in cargo cc make redis-server redis-cli redis-benchmark python3 taskset openssl ss; do
    command -v "$tool" >/dev/null || die "'$tool' is still missing after installation"
done
[ -f /etc/redis/redis.conf ] || die "/etc/redis/redis.conf is missing (package redis-server)"
say "tools: $(cargo --version); $(redis-server --version | cut -d' ' -f1-3)"

# ---------------------------------------------------------------- cargo tests
say "cargo test --all-targets"
cargo test --all-targets
say "cargo test --doc"
cargo test --doc

# ---------------------------------------------------------------- smoke + benchmark
BIN="$ROOT/target/debug/ferrodis-server"
[ -x "$BIN" ] || die "$BIN was not built"
PORT=${FERRODIS_TEST_PORT:-7349}
if redis-cli -p "$PORT" PING >/dev/null 2>&1; then
    die "port $PORT is already in use; set FERRODIS_TEST_PORT to a free port"
fi
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

say "starting ferrodis-server on port $PORT"
"$BIN" --port "$PORT" --bind 127.0.0.1 --save '' --dir "$WORK" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 200); do
    redis-cli -p "$PORT" PING >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log"; die "ferrodis-server exited during startup"; }
    sleep 0.05
done
[ "$(redis-cli -p "$PORT" PING)" = "PONG" ] || die "ferrodis-server does not answer PING"

say "redis-cli smoke run"
expect() { # expect <wanted output> <redis-cli args...>
    local want=$1; shift
    local got
    got=$(redis-cli -p "$PORT" "$@" 2>&1) || die "redis-cli $* failed: $got"
    [ "$got" = "$want" ] || die "redis-cli $*: expected '$want', got '$got'"
}
expect "PONG" PING
expect "OK" SET smoke:key "hello world"
expect "hello world" GET smoke:key
expect "1" EXISTS smoke:key
expect "1" DEL smoke:key
expect "" GET smoke:key
expect "OK" SELECT 3
expect "OK" FLUSHALL
expect "0" DBSIZE
printf 'SET smoke:a 1\nSET smoke:b 2\nGET smoke:b\n' | redis-cli -p "$PORT" >"$WORK/pipe.out"
[ "$(tr '\n' ' ' <"$WORK/pipe.out")" = "OK OK 2 " ] || die "redis-cli batch: $(cat "$WORK/pipe.out")"
expect "2" DBSIZE

TESTS=${FERRODIS_BENCH_TESTS:-set,get,incr}
N=${FERRODIS_BENCH_N:-100000}
say "redis-benchmark -t $TESTS -n $N -q"
if ! redis-benchmark -p "$PORT" -t "$TESTS" -n "$N" -q >"$WORK/bench.out" 2>"$WORK/bench.err" </dev/null; then
    tr '\r' '\n' <"$WORK/bench.out" | tail -5; cat "$WORK/bench.err"
    die "redis-benchmark failed"
fi
if grep -qi "error" "$WORK/bench.err" "$WORK/bench.out"; then
    cat "$WORK/bench.err"
    die "redis-benchmark reported errors"
fi
tr '\r' '\n' <"$WORK/bench.out" | grep "requests per second" || die "no benchmark results"
expected=$(( $(tr ',' '\n' <<<"$TESTS" | wc -l) ))
got=$(tr '\r' '\n' <"$WORK/bench.out" | grep -c "requests per second")
[ "$got" -eq "$expected" ] || die "redis-benchmark completed $got of $expected tests"
kill -0 "$SERVER_PID" 2>/dev/null || die "ferrodis-server died during the benchmark"

say "shutting down (SIGTERM)"
kill -TERM "$SERVER_PID"
status=0; wait "$SERVER_PID" || status=$?
SERVER_PID=
[ "$status" -eq 0 ] || die "ferrodis-server exited with status $status on SIGTERM"
grep -q "ready to exit" "$WORK/server.log" || die "no shutdown message in the server log"

# ---------------------------------------------------------------- performance guard
# A short side-by-side run against redis-server (release build) with ratio floors
# (bench/regression-check.sh; the full figures are in BENCHMARKS.md).
say "cargo build --release (for the performance guard)"
cargo build --release --bin ferrodis-server
say "bench/regression-check.sh"
bench/regression-check.sh "$ROOT/target/release/ferrodis-server"

# ---------------------------------------------------------------- Docker image
say "scripts/docker-check.sh (Dockerfile, entry point and docker-compose.yml, without Docker)"
scripts/docker-check.sh

# ---------------------------------------------------------------- examples
say "examples/run-all.sh (the usage patterns of examples/ against ferrodis-server)"
FERRODIS_BIN="$BIN" examples/run-all.sh

# ---------------------------------------------------------------- client suites
# Real client libraries' own test suites against Ferrodis and the reference server
# (installs Python's venv, Node.js and npm when missing; see COMPATIBILITY.md).
if [ "${FERRODIS_SKIP_CLIENT_SUITES:-0}" = "1" ]; then
    say "client suites NOT RUN (FERRODIS_SKIP_CLIENT_SUITES=1)"
else
    say "client suites (scripts/client-suites.sh)"
    FERRODIS_BIN="$BIN" scripts/client-suites.sh
fi

say "all tests passed"
