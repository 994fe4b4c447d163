#!/usr/bin/env bash
# Checks the Docker image without a Docker engine: what the Dockerfile and
# docker-compose.yml do, reproduced on this machine as far as it can be.
#
#   scripts/docker-check.sh            (CI) the Dockerfile's cargo command in the debug
#                                      profile, then the run checks with that binary
#   scripts/docker-check.sh --release  the Dockerfile's exact cargo command (release,
#                                      fat LTO: 10+ minutes on 2 cores), strip, --version,
#                                      then the run checks with the release binary; also
#                                      the static musl build if that target is installed
#
# Run checks (each on a free port, --dir a temporary directory):
#   - every COPY source of the Dockerfile exists and is not excluded by .dockerignore;
#   - the image's ENTRYPOINT + CMD arguments, as docker-entrypoint.sh turns them into a
#     ferrodis-server command line, start the server: PING, protected mode off, then
#     SHUTDOWN exits 0; the same for `docker run IMAGE --appendonly yes`;
#   - docker-compose.yml's command likewise, and data written before a SIGTERM (what
#     `docker compose stop` sends) is there after a restart on the same directory (what
#     the named volume keeps);
#   - the HEALTHCHECK command, run with busybox's nc as in the Alpine image, succeeds
#     against the running server (also with a password set) and fails once it is stopped.
# The static musl build itself needs the x86_64-unknown-linux-musl Rust target, which
# this machine's toolchain does not have; check it by hand with
#   rustup target add x86_64-unknown-linux-musl
#   cargo build --release --locked --bin ferrodis-server --target x86_64-unknown-linux-musl
# (musl-gcc from Debian's musl-tools), or with `docker build .` where Docker runs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

RELEASE=0
case "${1:-}" in
    --release) RELEASE=1 ;;
    "") ;;
    *) die "usage: $0 [--release]" ;;
esac

if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
for tool in cargo redis-cli; do
    command -v "$tool" >/dev/null || die "'$tool' is missing (redis-cli: Debian's redis-tools)"
done
if ! command -v busybox >/dev/null; then
    [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null || die "busybox is missing (Debian's busybox package)"
    say "installing busybox"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends busybox >/dev/null
fi

# The n-th JSON array of a line that starts with $1 (ENTRYPOINT, CMD, command:), one
# element per line. Arrays in these files hold plain strings without escapes.
json_array() { # json_array <file> <line prefix regex>
    local line
    line=$(grep -E "^[[:space:]]*$2[[:space:]]*\[" "$1" | tail -1) || die "no '$2 [...]' line in $1"
    sed -e 's/^[^[]*\[//' -e 's/\][[:space:]]*$//' <<<"$line" | grep -o '"[^"]*"' | sed 's/^"//; s/"$//'
}

# ---------------------------------------------------------------- Dockerfile sources
say "Dockerfile COPY sources"
[ -f Dockerfile ] && [ -f .dockerignore ] && [ -f docker-compose.yml ] || die "Dockerfile, .dockerignore or docker-compose.yml missing"
while read -r src; do
    [ -e "$src" ] || die "COPY source $src does not exist"
    top=${src%%/*}
    if grep -qxF "$top" .dockerignore; then die "COPY source $src is excluded by .dockerignore"; fi
    echo "ok: $src"
done < <(grep -E '^COPY ' Dockerfile | grep -v -- '--from=' | awk '{for (i = 2; i < NF; i++) print $i}')

# ---------------------------------------------------------------- build
CARGO_CMD=$(grep -oE 'cargo build[^\\&]*' Dockerfile | head -1 | sed 's/[[:space:]]*$//')
[ -n "$CARGO_CMD" ] || die "no cargo build command in the Dockerfile"
grep -q -- '--release' <<<"$CARGO_CMD" || die "the Dockerfile's build is not a release build: $CARGO_CMD"
if [ "$RELEASE" -eq 1 ]; then
    say "$CARGO_CMD (the Dockerfile's command, host target)"
    $CARGO_CMD
    BIN="$ROOT/target/release/ferrodis-server"
    STRIP_DIR=$(mktemp -d)
    cp "$BIN" "$STRIP_DIR/ferrodis-server"
    strip "$STRIP_DIR/ferrodis-server"
    "$STRIP_DIR/ferrodis-server" --version
    echo "stripped binary: $(du -h "$STRIP_DIR/ferrodis-server" | cut -f1) (unstripped $(du -h "$BIN" | cut -f1))"
    rm -rf "$STRIP_DIR"
    if rustup target list --installed 2>/dev/null | grep -q musl; then
        target=$(rustup target list --installed | grep musl | head -1)
        say "$CARGO_CMD --target $target (static)"
        $CARGO_CMD --target "$target"
        file "target/$target/release/ferrodis-server" | tee /dev/stderr | grep -q 'static' || die "the musl build is not static"
    else
        echo "note: no musl Rust target installed here; the static build is checked by hand (see the header)"
    fi
else
    DEBUG_CMD=$(sed 's/ --release//' <<<"$CARGO_CMD")
    say "$DEBUG_CMD (the Dockerfile's command in the debug profile)"
    $DEBUG_CMD
    BIN="$ROOT/target/debug/ferrodis-server"
fi
[ -x "$BIN" ] || die "$BIN was not built"

# ---------------------------------------------------------------- run checks
BINDIR=$(mktemp -d)
ln -s "$BIN" "$BINDIR/ferrodis-server"
ln -s "$ROOT/docker/docker-entrypoint.sh" "$BINDIR/docker-entrypoint.sh"
ln -s "$(command -v busybox)" "$BINDIR/nc"
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK" "$BINDIR"
}
trap cleanup EXIT

PORT=${FERRODIS_DOCKER_CHECK_PORT:-7352}
while redis-cli -p "$PORT" PING >/dev/null 2>&1 || (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do
    PORT=$((PORT + 1))
done

# start <name> <args...>: runs the image's command line (through the entry point) with
# --port and --dir appended, as the container would with a published port and /data.
start() {
    local name=$1; shift
    echo "$name: docker-entrypoint.sh $* --port $PORT --dir $WORK/data"
    mkdir -p "$WORK/data"
    (cd "$WORK/data" && PATH="$BINDIR:$PATH" exec docker-entrypoint.sh "$@" --port "$PORT" --dir "$WORK/data") \
        >"$WORK/$name.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 200); do
        case "$(redis-cli -p "$PORT" PING 2>/dev/null)" in PONG | NOAUTH*) return 0 ;; esac
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/$name.log"; die "$name: the server exited at startup"; }
        sleep 0.05
    done
    cat "$WORK/$name.log"
    die "$name: no answer to PING"
}

expect() { # expect <what> <wanted> <redis-cli args...>
    local what=$1 want=$2; shift 2
    local got
    got=$(redis-cli -p "$PORT" "$@" 2>&1 | tr '\n' ' ' | sed 's/ *$//')
    [ "$got" = "$want" ] || die "$what: redis-cli $*: expected '$want', got '$got'"
}

shutdown() { # shutdown <name> [SAVE|NOSAVE|SIGTERM]
    if [ "${2:-}" = SIGTERM ]; then
        kill -TERM "$SERVER_PID"
    else
        redis-cli -p "$PORT" SHUTDOWN ${2:-} >/dev/null 2>&1 || true
    fi
    local status=0
    wait "$SERVER_PID" || status=$?
    SERVER_PID=
    [ "$status" -eq 0 ] || { cat "$WORK/$1.log"; die "$1: exited with status $status after SHUTDOWN"; }
}

mapfile -t ENTRYPOINT < <(json_array Dockerfile ENTRYPOINT)
mapfile -t CMD < <(json_array Dockerfile CMD)
[ "${ENTRYPOINT[*]}" = "docker-entrypoint.sh" ] || die "unexpected ENTRYPOINT: ${ENTRYPOINT[*]}"
[ "${#CMD[@]}" -gt 0 ] || die "empty CMD"
HEALTH=$(awk '/^HEALTHCHECK/ { h = 1 } h { l = $0; c = sub(/\\$/, "", l); line = line l; if (!c) { print line; exit } }' Dockerfile |
    sed 's/.*[[:space:]]CMD[[:space:]]*//')
[ -n "$HEALTH" ] || die "no HEALTHCHECK command"
HEALTH=${HEALTH//6379/$PORT}

say "image: ENTRYPOINT ${ENTRYPOINT[*]}, CMD ${CMD[*]}"
start image "${CMD[@]}"
expect image PONG PING
expect image "protected-mode no" CONFIG GET protected-mode
expect image "bind * -::*" CONFIG GET bind
expect image "dir $WORK/data" CONFIG GET dir
say "HEALTHCHECK: $HEALTH"
PATH="$BINDIR:$PATH" sh -c "$HEALTH" || die "the healthcheck failed against a running server"
echo "healthy"
shutdown image NOSAVE
if PATH="$BINDIR:$PATH" sh -c "$HEALTH" 2>/dev/null; then die "the healthcheck passed with no server"; fi
echo "unhealthy once stopped"

say "image with options only: docker run IMAGE --appendonly yes --requirepass ..."
start options --appendonly yes --requirepass docker-check
expect options "NOAUTH Authentication required." PING
expect options "appendonly yes" --no-auth-warning -a docker-check CONFIG GET appendonly
expect options "protected-mode no" --no-auth-warning -a docker-check CONFIG GET protected-mode
PATH="$BINDIR:$PATH" sh -c "$HEALTH" || die "the healthcheck failed against a server with a password"
echo "healthy (NOAUTH answer)"
redis-cli -p "$PORT" --no-auth-warning -a docker-check SHUTDOWN NOSAVE >/dev/null 2>&1 || true
shutdown options

mapfile -t COMPOSE < <(json_array docker-compose.yml 'command:')
[ "${#COMPOSE[@]}" -gt 0 ] || die "no command in docker-compose.yml"
say "docker-compose.yml: command ${COMPOSE[*]}"
rm -rf "$WORK/data"
start compose "${COMPOSE[@]}"
expect compose "appendonly yes" CONFIG GET appendonly
expect compose "protected-mode no" CONFIG GET protected-mode
expect compose OK SET docker-check:key "kept in the volume"
shutdown compose SIGTERM # as `docker compose stop`: saves before exiting
start compose-restart "${COMPOSE[@]}"
expect compose-restart "kept in the volume" GET docker-check:key
shutdown compose-restart NOSAVE

say "docker check passed"
