#!/usr/bin/env python3
"""Runs real client libraries' own test suites against Ferrodis and against the
reference redis-server, one fresh server per suite and per run, and compares them.

Called by scripts/client-suites.sh (which installs the system packages first); uses
only the standard library. Steps:

1. prepare: a virtualenv with the pinned test requirements (requirements.txt), the
   source distributions of redis-py, fakeredis and rq from PyPI (pinned in SDISTS), and
   `npm ci` in tests/node (package-lock.json);
2. for each suite, for each server (reference first, then Ferrodis): start a fresh
   server, run the suite with a time limit, record each test's outcome, stop the
   server (always, also on errors and signals);
3. a test that passes on the reference and fails (or is missing) on Ferrodis is a
   regression unless known-failures.txt lists it with a reason; such tests are run
   once more against a fresh Ferrodis (pytest suites) to tell a flaky test from a real
   failure; the project's own Node.js suite must pass on both servers;
4. prints the table, writes results to the work directory and, with --update-compat,
   rewrites the results section of COMPATIBILITY.md.

Exit status: 0 when nothing regressed, 1 when a test regressed or a suite could not
run (a missing tool, a timeout, a server that did not start), 2 on bad usage.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
NODE_DIR = ROOT / "tests" / "node"
KNOWN_FAILURES = HERE / "known-failures.txt"
COMPAT = ROOT / "COMPATIBILITY.md"

# Source distributions whose own tests are run (exact versions: results must not move
# under our feet when a new release comes out).
SDISTS = {
    "redis-py": ("redis", "8.1.0"),
    "fakeredis": ("fakeredis", "2.40.0"),
    "rq": ("rq", "2.12.0"),
}

# redis-py: test modules that talk to one standalone server. Left out: cluster,
# sentinel, SSL, Redis Stack modules, multi-database failover, Entra ID, scenario and
# observability tests (they need other servers, other addresses or cloud services).
REDIS_PY_FILES = [
    "tests/test_commands.py",
    "tests/test_pipeline.py",
    "tests/test_pubsub.py",
    "tests/test_scripting.py",
    "tests/test_function.py",
    "tests/test_lock.py",
    "tests/test_encoding.py",
    "tests/test_monitor.py",
    "tests/test_keyspace_notifications.py",
    "tests/test_connection.py",
    "tests/test_connection_pool.py",
    "tests/test_client.py",
    "tests/test_retry.py",
    "tests/test_multiprocessing.py",
    "tests/test_command_parser.py",
    "tests/test_hash.py",
    "tests/test_cache.py",
    "tests/test_asyncio/test_commands.py",
    "tests/test_asyncio/test_pipeline.py",
    "tests/test_asyncio/test_pubsub.py",
    "tests/test_asyncio/test_scripting.py",
    "tests/test_asyncio/test_lock.py",
    "tests/test_asyncio/test_encoding.py",
    "tests/test_asyncio/test_monitor.py",
    "tests/test_asyncio/test_keyspace_notifications.py",
    "tests/test_asyncio/test_connection.py",
    "tests/test_asyncio/test_connection_pool.py",
    "tests/test_asyncio/test_hash.py",
    "tests/test_asyncio/test_cwe_404.py",
]
REDIS_PY_MARKERS = "not onlycluster and not redismod and not ssl and not replica and not cp_integration"


# Every server and suite process started, so that all are killed on any exit path
# (including SIGTERM while runs are going on in worker threads).
LIVE = set()
LIVE_LOCK = threading.Lock()


def kill_all():
    with LIVE_LOCK:
        procs = list(LIVE)
        LIVE.clear()
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            p.wait()


class SuiteError(Exception):
    """A suite could not run at all (missing tool, server did not start, timeout)."""


def say(msg):
    print(f"\n==> {msg}", flush=True)


def run(cmd, **kw):
    """Runs a preparation command; its failure is fatal."""
    print("+ " + " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kw)


# ------------------------------------------------------------------ preparation
def safe_extract(tar, dest):
    """Extracts a source distribution, refusing links and paths that leave `dest`.

    `extractall(filter="data")` does this on Python >= 3.11.4/3.12; Debian 12 ships
    3.11.2, whose tarfile has no filters, so the check is done here."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, filter="data")
        return
    root = Path(dest).resolve()
    for m in tar.getmembers():
        target = (root / m.name).resolve()
        if m.issym() or m.islnk() or m.isdev() or not str(target).startswith(str(root)):
            raise SuiteError(f"unsafe member in the archive: {m.name}")
    tar.extractall(dest)


def prepare(work, suites):
    venv = work / "venv"
    py = venv / "bin" / "python"
    if any(s.kind == "pytest" for s in suites):
        if not py.exists():
            say("creating the virtualenv")
            run([sys.executable, "-m", "venv", venv])
        stamp = venv / "requirements.stamp"
        wanted = (HERE / "requirements.txt").read_text()
        if not stamp.exists() or stamp.read_text() != wanted:
            say("installing the Python test requirements")
            run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", HERE / "requirements.txt"])
            stamp.write_text(wanted)
        src = work / "src"
        src.mkdir(exist_ok=True)
        for s in suites:
            if s.sdist is None:
                continue
            name, version = SDISTS[s.sdist]
            dest = src / s.sdist
            marker = dest / ".version"
            if marker.exists() and marker.read_text() == version:
                continue
            say(f"downloading the source distribution {name}=={version}")
            dl = work / "downloads"
            dl.mkdir(exist_ok=True)
            run([py, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-binary", ":all:",
                 "--no-deps", "-d", dl, f"{name}=={version}"])
            archive = dl / f"{name}-{version}.tar.gz"
            if not archive.exists():
                raise SuiteError(f"pip download did not produce {archive}")
            if dest.exists():
                shutil.rmtree(dest)
            tmp = src / f".{s.sdist}.tmp"
            if tmp.exists():
                shutil.rmtree(tmp)
            with tarfile.open(archive) as tar:
                safe_extract(tar, tmp)
            (tmp / f"{name}-{version}").rename(dest)
            shutil.rmtree(tmp)
            marker.write_text(version)
    if any(s.kind == "node" for s in suites):
        for tool in ("node", "npm"):
            if shutil.which(tool) is None:
                raise SuiteError(f"'{tool}' is missing (scripts/client-suites.sh installs it)")
        lock = NODE_DIR / "package-lock.json"
        stamp = NODE_DIR / "node_modules" / ".lock.stamp"
        if not stamp.exists() or stamp.read_text() != lock.read_text():
            say("npm ci in tests/node")
            run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR)
            stamp.write_text(lock.read_text())
    return py


# ------------------------------------------------------------------ servers
def port_free(port):
    for family, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        try:
            s = socket.socket(family, socket.SOCK_STREAM)
        except OSError:
            continue
        try:
            s.settimeout(0.2)
            if s.connect_ex((addr, port)) == 0:
                return False
        except OSError:
            pass
        finally:
            s.close()
    return True


def ping(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class Server:
    def __init__(self, kind, binary, port, logdir, tag):
        self.kind, self.binary, self.port = kind, binary, port
        self.dir = logdir / f"{tag}.data"
        self.log = logdir / f"{tag}.server.log"
        self.proc = None

    def start(self):
        if not port_free(self.port):
            raise SuiteError(f"port {self.port} is already in use")
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True)
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.dir),
                # Some suites use DEBUG (e.g. redis-py: DEBUG ERROR, DEBUG SLEEP).
                "--enable-debug-command", "yes"]
        if self.kind == "redis":
            # The reference runs without a config file, like Ferrodis: both start from
            # the built-in defaults.
            args += ["--daemonize", "no", "--logfile", ""]
        self.logf = open(self.log, "wb")
        self.proc = subprocess.Popen(args, stdout=self.logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        with LIVE_LOCK:
            LIVE.add(self.proc)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SuiteError(f"{self.kind} server exited at startup (status {self.proc.returncode}), see {self.log}")
            if ping(self.port):
                return
            time.sleep(0.05)
        raise SuiteError(f"{self.kind} server did not answer PING on port {self.port} within 20 s, see {self.log}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        with LIVE_LOCK:
            LIVE.discard(self.proc)
        self.proc = None
        self.logf.close()


# ------------------------------------------------------------------ suites
class Suite:
    def __init__(self, name, kind, sdist, port, timeout, describe, fixed_port=False):
        self.name, self.kind, self.sdist, self.port, self.timeout = name, kind, sdist, port, timeout
        self.describe, self.fixed_port = describe, fixed_port

    def command(self, work, py, port, results, only=None):
        """(argv, cwd, env) for one run; `only` restricts it to the given test ids."""
        env = dict(os.environ)
        env["CLIENT_SUITE_RESULTS"] = str(results)
        env["CLIENT_SUITE_PORT"] = str(port)
        if self.kind == "pytest":
            env["PYTHONPATH"] = str(HERE)
            # The suites start the packages' command-line tools (rq's `rq worker`).
            env["PATH"] = f"{py.parent}{os.pathsep}{env.get('PATH', '')}"
            env["PYTHONDONTWRITEBYTECODE"] = "1"
            cwd = work / "src" / self.sdist
            base = [str(py), "-m", "pytest", "-p", "pytest_results", "-p", "no:cacheprovider", "-q", "--tb=no",
                    "-o", "addopts=", "-W", "ignore", "--timeout=60"]
            url = f"redis://127.0.0.1:{port}"
            if self.name.startswith("redis-py"):
                proto = "2" if self.name.endswith("resp2") else "3"
                args = base + [f"--redis-url={url}/0", f"--redis-mod-url={url}", f"--protocol={proto}",
                               "-m", REDIS_PY_MARKERS]
                args += only if only else REDIS_PY_FILES
            elif self.name == "fakeredis":
                # Left out: Redis Stack modules and other servers' own commands.
                args = base + ["-m", "real"] + (only if only else [
                    "test", "--ignore=test/test_stack", "--ignore=test/test_dragonfly", "--ignore=test/test_kividb"])
            elif self.name == "rq":
                args = base + (only if only else ["tests"])
            else:
                raise AssertionError(self.name)
            return args, cwd, env
        env["REDIS_PORT"] = str(port)
        env["CLIENT_SUITE_RESULTS"] = str(results)
        args = ["node", "--test", "--test-concurrency=1", "--test-reporter=spec", "--test-reporter-destination=stdout",
                "--test-reporter=./reporter.mjs", "--test-reporter-destination=stderr"]
        args += sorted(str(p.relative_to(NODE_DIR)) for p in (NODE_DIR / "test").glob("*.test.mjs"))
        return args, NODE_DIR, env


def make_suites(base_port):
    return [
        Suite("redis-py-resp2", "pytest", "redis-py", base_port, 900,
              f"redis-py {SDISTS['redis-py'][1]} own tests (sync + asyncio), RESP2"),
        Suite("redis-py-resp3", "pytest", "redis-py", base_port, 900,
              f"redis-py {SDISTS['redis-py'][1]} own tests (sync + asyncio), RESP3"),
        # Both suites below insist on fixed ports: fakeredis dials localhost:6390, rq
        # localhost:6379 (the default).
        Suite("fakeredis", "pytest", "fakeredis", 6390, 600,
              f"fakeredis {SDISTS['fakeredis'][1]} tests marked `real` (fakeredis compared with the server)",
              fixed_port=True),
        Suite("rq", "pytest", "rq", 6379, 600, f"rq {SDISTS['rq'][1]} own tests (job queue)", fixed_port=True),
        Suite("node", "node", None, base_port, 300, "tests/node: ioredis and node-redis over every command family"),
    ]


def read_results(path):
    out = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                out[rec["id"]] = rec
    return out


def run_suite_once(suite, server_kind, binary, work, py, logdir, tag, only=None, port=None):
    port = port or suite.port
    results = logdir / f"{tag}.results.jsonl"
    if results.exists():
        results.unlink()
    out_log = logdir / f"{tag}.out.log"
    server = Server(server_kind, binary, port, logdir, tag)
    argv, cwd, env = suite.command(work, py, port, results, only)
    started = time.monotonic()
    try:
        server.start()
        with open(out_log, "wb") as out:
            proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
            with LIVE_LOCK:
                LIVE.add(proc)
            try:
                proc.wait(timeout=suite.timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise SuiteError(f"{suite.name} against {server_kind} timed out after {suite.timeout} s, see {out_log}")
            finally:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                # Children the suite left behind (worker processes) go too.
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except OSError:
                    pass
                with LIVE_LOCK:
                    LIVE.discard(proc)
        crashed = not server.alive()
    finally:
        server.stop()
    secs = time.monotonic() - started
    res = read_results(results)
    if not res:
        raise SuiteError(f"{suite.name} against {server_kind} reported no test (exit {proc.returncode}), see {out_log}")
    # Exit 0 (all passed) or 1 (some failed) only: anything else is an interrupted or
    # broken run (pytest: 2 interrupted, 3 internal error, 4 usage error, 5 no tests).
    if proc.returncode not in (0, 1):
        raise SuiteError(f"{suite.name} against {server_kind} exited with status {proc.returncode}, see {out_log}")
    # A test module that does not import (a missing dependency) would drop its tests
    # from both runs alike: never accept that silently.
    broken = [r["id"] for r in res.values() if r["message"].startswith("collection:")]
    if broken:
        raise SuiteError(f"{suite.name} against {server_kind}: test modules failed to load: "
                         f"{', '.join(broken[:5])}, see {out_log}")
    return res, secs, crashed


def counts(res):
    c = {"passed": 0, "failed": 0, "skipped": 0}
    for r in res.values():
        c[r["outcome"]] += 1
    return c


def load_known():
    known = {}
    if not KNOWN_FAILURES.exists():
        return known
    for n, line in enumerate(KNOWN_FAILURES.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split(" | ", 2)]
        if len(parts) != 3 or not all(parts):
            raise SuiteError(f"{KNOWN_FAILURES}:{n}: expected 'suite | test id | reason'")
        known[(parts[0], parts[1])] = parts[2]
    return known


# ------------------------------------------------------------------ report
def table(summary):
    lines = [
        "| suite | reference redis-server: passed / failed / skipped | Ferrodis: passed / failed / skipped "
        "| pass on reference, fail on Ferrodis (known) | time (ref + Ferrodis) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for s in summary:
        r, f = s["redis"], s["ferrodis"]
        lines.append(
            f"| {s['name']}: {s['describe']} | {r['passed']} / {r['failed']} / {r['skipped']} "
            f"| {f['passed']} / {f['failed']} / {f['skipped']} | {len(s['regressions'])} ({s['known_count']}) "
            f"| {s['secs_redis']:.0f} s + {s['secs_ferrodis']:.0f} s |")
    return "\n".join(lines)


def regressions_md(summary, known):
    lines = []
    for s in summary:
        for tid, msg in s["regressions"]:
            reason = known.get((s["name"], tid), "NOT LISTED: " + msg)
            lines.append(f"| {s['name']} | `{tid}` | {reason} |")
    if not lines:
        return "None."
    return "| suite | test | reason |\n| --- | --- | --- |\n" + "\n".join(lines)


def update_compat(summary, known, meta):
    text = COMPAT.read_text(encoding="utf-8")
    begin, end = "<!-- results:begin -->", "<!-- results:end -->"
    if begin not in text or end not in text:
        raise SuiteError(f"{COMPAT} lacks the {begin} / {end} markers")
    body = (f"{begin}\n_Generated by `scripts/client-suites.sh --update-compat` on {meta['date']}; "
            f"Ferrodis binary: `{meta['binary']}`; reference: {meta['redis_version']}._\n\n"
            f"{table(summary)}\n\n"
            f"### Tests that pass on the reference and fail on Ferrodis\n\n"
            f"{regressions_md(summary, known)}\n{end}")
    head, rest = text.split(begin, 1)
    tail = rest.split(end, 1)[1]
    COMPAT.write_text(head + body + tail, encoding="utf-8")


# ------------------------------------------------------------------ main
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ferrodis", default=str(ROOT / "target" / "debug" / "ferrodis-server"))
    ap.add_argument("--redis", default=shutil.which("redis-server") or "/usr/bin/redis-server")
    ap.add_argument("--work", default=str(ROOT / "target" / "client-suites"))
    ap.add_argument("--port", type=int, default=int(os.environ.get("FERRODIS_SUITES_PORT", "7450")),
                    help="port for the suites that take any port (fakeredis and rq use their own fixed ports)")
    ap.add_argument("--suites", default="all", help="comma-separated suite names (default: all)")
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("FERRODIS_SUITES_JOBS", "2")),
                    help="2 (default): run a suite against both servers at once where its port allows; 1: in turn")
    ap.add_argument("--update-compat", action="store_true", help="rewrite the results section of COMPATIBILITY.md")
    ap.add_argument("--from-results", action="store_true",
                    help="run nothing: rewrite COMPATIBILITY.md's results section from the last run's results.json "
                         "and the current known-failures.txt")
    opts = ap.parse_args()
    if opts.from_results:
        last = json.loads((Path(opts.work) / "results.json").read_text())
        for s in last["summary"]:
            s["regressions"] = [tuple(r) for r in s["regressions"]]
            s["known_count"] = sum(1 for t, _ in s["regressions"] if (s["name"], t) in load_known())
        update_compat(last["summary"], load_known(), last["meta"])
        print(table(last["summary"]))
        return 0

    work = Path(opts.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    logdir = work / "logs"
    if logdir.exists():
        shutil.rmtree(logdir)
    logdir.mkdir()

    suites = make_suites(opts.port)
    if opts.suites != "all":
        wanted = opts.suites.split(",")
        unknown = set(wanted) - {s.name for s in suites}
        if unknown:
            print(f"unknown suite(s): {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        suites = [s for s in suites if s.name in wanted]
    for binary in (opts.ferrodis, opts.redis):
        if not os.access(binary, os.X_OK):
            print(f"FATAL: {binary} is missing or not executable", file=sys.stderr)
            return 1

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)

    known = load_known()
    py = prepare(work, suites)
    summary, problems, flaky, fixed, not_comparable = [], [], [], [], []
    for suite in suites:
        entry = {"name": suite.name, "describe": suite.describe}
        per = {}
        runs = (("redis", opts.redis), ("ferrodis", opts.ferrodis))
        # Suites that take any port run against both servers at once (two ports); the
        # ones with a fixed port, one after the other.
        parallel = opts.jobs > 1 and not suite.fixed_port
        say(f"{suite.name}: against redis-server and Ferrodis " + ("in parallel" if parallel else "in turn"))

        def one(i, kind, binary):
            port = suite.port + i if parallel else suite.port
            return run_suite_once(suite, kind, binary, work, py, logdir, f"{suite.name}.{kind}", port=port)

        try:
            if parallel:
                with ThreadPoolExecutor(max_workers=2) as pool:
                    futures = [pool.submit(one, i, k, b) for i, (k, b) in enumerate(runs)]
                    outcomes = [f.result() for f in futures]
            else:
                outcomes = [one(i, k, b) for i, (k, b) in enumerate(runs)]
        except SuiteError as e:
            problems.append(str(e))
            continue
        for (kind, _), (res, secs, crashed) in zip(runs, outcomes):
            c = counts(res)
            print(f"    {kind}: {c['passed']} passed, {c['failed']} failed, {c['skipped']} skipped in {secs:.0f} s",
                  flush=True)
            if crashed:
                problems.append(f"{suite.name}: the {kind} server died during the run, see {logdir}")
            per[kind] = res
            entry[kind] = c
            entry[f"secs_{kind}"] = secs
        ref, fer = per["redis"], per["ferrodis"]
        regressions = []
        for tid, r in ref.items():
            f = fer.get(tid)
            if r["outcome"] == "passed" and (f is None or f["outcome"] == "failed"):
                regressions.append((tid, f["message"] if f else "not run on Ferrodis"))
        # Rerun the unlisted ones once on a fresh server: a test that passes then is
        # flaky (reported), not a regression.
        unlisted = [tid for tid, _ in regressions if (suite.name, tid) not in known]
        if unlisted and suite.kind == "pytest" and len(unlisted) <= 60:
            say(f"{suite.name}: rerunning {len(unlisted)} unlisted failure(s) against a fresh Ferrodis")
            try:
                again, _, _ = run_suite_once(suite, "ferrodis", opts.ferrodis, work, py, logdir,
                                             f"{suite.name}.ferrodis-rerun", only=unlisted)
                for tid in unlisted:
                    if again.get(tid, {}).get("outcome") == "passed":
                        flaky.append(f"{suite.name} | {tid}")
                regressions = [(t, m) for t, m in regressions if f"{suite.name} | {t}" not in flaky]
            except SuiteError as e:
                problems.append(str(e))
        entry["regressions"] = regressions
        entry["known_count"] = sum(1 for t, _ in regressions if (suite.name, t) in known)
        for tid, _ in regressions:
            if (suite.name, tid) not in known:
                problems.append(f"REGRESSION {suite.name} | {tid} | {fer.get(tid, {}).get('message', 'not run')}")
        for (sname, tid) in known:
            if sname == suite.name and fer.get(tid, {}).get("outcome") == "passed":
                fixed.append(f"{sname} | {tid}")
        if suite.kind == "node":
            for kind, res in per.items():
                for tid, r in res.items():
                    if r["outcome"] == "failed" and (kind == "redis" or (suite.name, tid) not in known):
                        problems.append(f"{suite.name} fails against {kind}: {tid}: {r['message']}")
        for tid, r in fer.items():
            if r["outcome"] == "failed" and ref.get(tid, {}).get("outcome") != "passed" and \
                    ref.get(tid, {}).get("outcome") == "skipped":
                not_comparable.append(f"{suite.name} | {tid} | {r['message']}")
        summary.append(entry)

    redis_version = subprocess.run([opts.redis, "--version"], capture_output=True, text=True).stdout.strip()
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "binary": os.path.relpath(opts.ferrodis, ROOT),
            "redis_version": " ".join(redis_version.split()[:3])}
    (work / "results.json").write_text(json.dumps(
        {"summary": summary, "flaky": flaky, "fixed": fixed, "not_comparable": not_comparable,
         "problems": problems, "meta": meta}, indent=1))
    (work / "not-comparable.txt").write_text("\n".join(not_comparable) + "\n")
    # The unlisted regressions in known-failures.txt's format, the error as the reason:
    # a starting point when a difference is accepted (write a real reason).
    unlisted_lines = [f"{s['name']} | {tid} | {msg}" for s in summary for tid, msg in s["regressions"]
                      if (s["name"], tid) not in known]
    (work / "unlisted.txt").write_text("".join(line + "\n" for line in unlisted_lines))

    say("client suites: results")
    print(table(summary))
    if not_comparable:
        print(f"\n{len(not_comparable)} test(s) fail on Ferrodis but were skipped on the reference "
              f"(listed in {work / 'not-comparable.txt'})")
    if flaky:
        print("\nFlaky (failed, then passed on a rerun against a fresh Ferrodis):")
        for t in flaky:
            print("    " + t)
    if fixed:
        print(f"\nListed in {KNOWN_FAILURES.relative_to(ROOT)} but now passing (remove them):")
        for t in fixed:
            print("    " + t)
    if opts.update_compat:
        update_compat(summary, known, meta)
        print(f"\nrewrote the results section of {COMPAT}")
    if problems:
        print("\nFAILED:")
        for p in problems:
            print("    " + p)
        print(f"logs: {logdir}")
        return 1
    total = sum(s["ferrodis"]["passed"] + s["redis"]["passed"] for s in summary)
    print(f"\nclient suites: {len(summary)} suites, {total} passing test runs, no regression")
    return 0


if __name__ == "__main__":
    try:
        try:
            sys.exit(main())
        finally:
            kill_all()
    except KeyboardInterrupt as e:
        print(f"interrupted ({e})", file=sys.stderr)
        sys.exit(1)
    except (SuiteError, subprocess.CalledProcessError) as e:
        print(f"FATAL: {e}", file=sys.stderr)
        sys.exit(1)
