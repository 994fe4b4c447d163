#!/usr/bin/env bash
# Runs real client libraries' own test suites against Ferrodis and against the reference
# redis-server (called by scripts/test.sh, so by CI): redis-py (RESP2 and RESP3),
# fakeredis's `real` tests, rq, and the project's own Node.js suite (ioredis and
# node-redis, tests/node). The work is done by tests/client-suites/run.py; this script
# installs what it needs on a fresh Debian 12 machine (as root): Python's venv and pip,
# Node.js and npm, a C toolchain, redis-server. A tool that is still missing after that
# fails the run: no suite is silently skipped.
#
# Usage: scripts/client-suites.sh [--suites a,b] [--ferrodis BIN] [--update-compat]
#   (arguments are passed to run.py; see `python3 tests/client-suites/run.py --help`).
# Environment: FERRODIS_BIN (default target/debug/ferrodis-server, built by cargo if
# missing), FERRODIS_SUITES_PORT (default 7450) for the suites that take any port;
# fakeredis and rq insist on ports 6390 and 6379, which must be free while they run.
# Results, logs and the virtualenv are under target/client-suites/ (kept after a run).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"


if command -v dpkg-query >/dev/null; then
    apt_install redis-server python3 python3-venv python3-pip build-essential ca-certificates
    # Node.js: Debian's packages unless a Node.js (>= 18) is already installed (e.g. a
    # newer one from another source, which Debian's npm would conflict with).
    if ! command -v node >/dev/null; then
        apt_install nodejs npm
    elif ! command -v npm >/dev/null; then
        apt_install npm
    fi
fi

# Debian's python3 (with python3-venv) makes the virtualenv; any python3 >= 3.10 with a
# working venv module does.
PYTHON=
for candidate in /usr/bin/python3 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
        PYTHON=$(command -v "$candidate")
        break
    fi
done
[ -n "$PYTHON" ] || die "no python3 >= 3.10 with the venv module (package python3-venv)"
for tool in node npm redis-server; do
    command -v "$tool" >/dev/null || die "'$tool' is still missing after installation"
done
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 18 ] || die "Node.js $(node --version) is too old: the Node.js suite needs 18 or newer"

BIN=${FERRODIS_BIN:-$ROOT/target/debug/ferrodis-server}
if [ ! -x "$BIN" ]; then
    if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    say "building ferrodis-server (debug)"
    cargo build --bin ferrodis-server
fi
[ -x "$BIN" ] || die "$BIN is missing"

say "client suites: $("$PYTHON" --version), node $(node --version), $(redis-server --version | cut -d' ' -f1-3)"
exec "$PYTHON" tests/client-suites/run.py --ferrodis "$BIN" "$@"
