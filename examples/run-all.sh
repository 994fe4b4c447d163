#!/usr/bin/env bash
# Runs every example's test against Ferrodis: examples/run-all.sh [example ...]
#
# On a fresh Debian 12 machine (as root, like CI) it first installs what is missing:
# Node.js and npm (Debian's nodejs and npm packages) and PostgreSQL's server programs
# (Debian's postgresql package, for cache-aside). Then it builds ferrodis-server (a
# debug build; a no-op when it is up to date) unless FERRODIS_BIN names a binary, and in
# each example runs `npm ci` and `npm test` (node --test). Each test starts its own
# servers on free ports (from EXAMPLES_PORT_BASE, default 7500).
#
# A missing tool is an error, never a skip. Exits non-zero if any example fails.
# FERRODIS_BIN=/usr/bin/redis-server runs the same tests against Redis.
set -euo pipefail

cd "$(dirname "$0")"
EXAMPLES_DIR=$(pwd)
ROOT=$(cd .. && pwd)
ALL=(counters otp rate-limiting cache-aside sessions job-queue)

# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

# ---------------------------------------------------------------- dependencies

pg_bindir() {
    if [ -n "${PG_BINDIR:-}" ]; then echo "$PG_BINDIR"; return; fi
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1) || true
    if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return; fi
    command -v initdb >/dev/null && dirname "$(command -v initdb)"
    return 0
}

missing=()
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
[ -n "$(pg_bindir)" ] || missing+=(postgresql)
apt_install "${missing[@]}"

command -v node >/dev/null || die "node is still missing"
command -v npm >/dev/null || die "npm is still missing"
PGBIN=$(pg_bindir)
[ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ] && [ -x "$PGBIN/postgres" ] || die "PostgreSQL's initdb/postgres are still missing"
export PG_BINDIR="$PGBIN"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 18 ] || die "Node.js $(node --version) is too old: the examples need 18 or newer"

if [ -z "${FERRODIS_BIN:-}" ]; then
    if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    command -v cargo >/dev/null || die "cargo is missing: install the Rust toolchain, or set FERRODIS_BIN"
    say "cargo build --bin ferrodis-server"
    (cd "$ROOT" && cargo build --bin ferrodis-server)
    export FERRODIS_BIN="$ROOT/target/debug/ferrodis-server"
fi
[ -x "$FERRODIS_BIN" ] || die "FERRODIS_BIN=$FERRODIS_BIN is not an executable"
say "node $(node --version), npm $(npm --version), PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'), server $FERRODIS_BIN"

# ---------------------------------------------------------------- examples
if [ "$#" -gt 0 ]; then SELECTED=("$@"); else SELECTED=("${ALL[@]}"); fi
passed=()
failed=()
for ex in "${SELECTED[@]}"; do
    [ -f "$EXAMPLES_DIR/$ex/package.json" ] || die "no example named '$ex' (have: ${ALL[*]})"
    say "example $ex: npm ci"
    start=$(date +%s)
    # One retry: a registry hiccup should not fail the run.
    if ! (cd "$EXAMPLES_DIR/$ex" && npm ci --no-audit --no-fund --loglevel=error); then
        echo "npm ci failed; retrying once in 5 s"
        sleep 5
        if ! (cd "$EXAMPLES_DIR/$ex" && npm ci --no-audit --no-fund --loglevel=error); then
            failed+=("$ex (npm ci)")
            continue
        fi
    fi
    say "example $ex: npm test"
    if (cd "$EXAMPLES_DIR/$ex" && npm test); then
        passed+=("$ex")
        echo "example $ex passed in $(( $(date +%s) - start ))s"
    else
        failed+=("$ex")
        echo "example $ex FAILED after $(( $(date +%s) - start ))s"
    fi
done

say "examples: ${#passed[@]} passed, ${#failed[@]} failed"
[ "${#passed[@]}" -eq 0 ] || echo "passed: ${passed[*]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "failed: ${failed[*]}"
    exit 1
fi
