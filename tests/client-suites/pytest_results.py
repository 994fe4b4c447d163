"""pytest plugin (loaded with `-p pytest_results`): writes one JSON object per test to
the file named by $CLIENT_SUITE_RESULTS, with the test's node id, its outcome
(passed / failed / skipped) and, for a failure, the first line of the error.

A test is failed when any of its phases (setup, call, teardown) failed, skipped when it
was skipped (or xfailed: the suite itself expects it to fail), passed otherwise.

With $CLIENT_SUITE_PORT set, it also clears `requirepass` on that server (127.0.0.1)
after each test, through a connection opened before the first test (so authenticated
whatever password a test sets): a test that sets a password and fails before its own
clean-up would otherwise fail every later test with NOAUTH. Done the same way against
both servers."""

import json
import os
import socket

_RESULTS = {}
_ORDER = []


def _message(report):
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        text = crash.message
    else:
        text = str(report.longrepr or "")
    return text.strip().splitlines()[0][:300] if text.strip() else ""


def pytest_runtest_logreport(report):
    nodeid = report.nodeid
    if nodeid not in _RESULTS:
        _RESULTS[nodeid] = {"id": nodeid, "outcome": "passed", "message": "", "secs": 0.0}
        _ORDER.append(nodeid)
    entry = _RESULTS[nodeid]
    entry["secs"] = round(entry["secs"] + (report.duration or 0.0), 3)
    if hasattr(report, "wasxfail"):
        if entry["outcome"] != "failed":
            entry["outcome"] = "skipped"
        return
    if report.failed:
        if entry["outcome"] != "failed":
            entry["message"] = f"{report.when}: {_message(report)}"
        entry["outcome"] = "failed"
    elif report.skipped and entry["outcome"] == "passed":
        entry["outcome"] = "skipped"


def pytest_collectreport(report):
    # A module that fails to import loses all its tests: record it as one failure.
    if report.failed:
        nodeid = report.nodeid or "<collection>"
        _RESULTS[nodeid] = {"id": nodeid, "outcome": "failed", "message": "collection: " + _message(report)}
        _ORDER.append(nodeid)


_ADMIN = {"sock": None}


def _admin_send(command):
    port = os.environ.get("CLIENT_SUITE_PORT")
    if not port:
        return
    for _ in range(2):
        sock = _ADMIN["sock"]
        try:
            if sock is None:
                sock = socket.create_connection(("127.0.0.1", int(port)), timeout=5)
                _ADMIN["sock"] = sock
            sock.sendall(command)
            if not sock.recv(4096):
                raise OSError("closed")
            return
        except OSError:
            # A test killed the connection (CLIENT KILL): open a new one; it works as
            # long as no password is set at that moment.
            if sock is not None:
                sock.close()
            _ADMIN["sock"] = None


def pytest_sessionstart(session):
    _admin_send(b"PING\r\n")


def pytest_runtest_logfinish(nodeid, location):
    _admin_send(b"*4\r\n$6\r\nCONFIG\r\n$3\r\nSET\r\n$11\r\nrequirepass\r\n$0\r\n\r\n")


_EXIT = {"status": None}


def pytest_sessionfinish(session, exitstatus):
    _EXIT["status"] = int(exitstatus)
    path = os.environ.get("CLIENT_SUITE_RESULTS")
    if not path:
        return
    with open(path, "w", encoding="utf-8") as f:
        for nodeid in _ORDER:
            f.write(json.dumps(_RESULTS[nodeid]) + "\n")


def pytest_unconfigure(config):
    # A failed test may leave a non-daemon child process behind (rq's worker pool),
    # which Python would wait for at exit, forever: the results are written, leave now
    # (the runner kills the whole process group afterwards).
    if _EXIT["status"] is not None and os.environ.get("CLIENT_SUITE_RESULTS"):
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT["status"])
