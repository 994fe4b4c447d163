"""pytest plugin (loaded with `-p pytest_results`): writes one JSON object per test to
the file named by $CLIENT_SUITE_RESULTS, with the test's node id, its outcome
(passed / failed / skipped) and, for a failure, the first line of the error.

A test is failed when any of its phases (setup, call, teardown) failed, skipped when it
was skipped (or xfailed: the suite itself expects it to fail), passed otherwise."""

import json
import os

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
        _RESULTS[nodeid] = {"id": nodeid, "outcome": "passed", "message": ""}
        _ORDER.append(nodeid)
    entry = _RESULTS[nodeid]
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


def pytest_sessionfinish(session):
    path = os.environ.get("CLIENT_SUITE_RESULTS")
    if not path:
        return
    with open(path, "w", encoding="utf-8") as f:
        for nodeid in _ORDER:
            f.write(json.dumps(_RESULTS[nodeid]) + "\n")
