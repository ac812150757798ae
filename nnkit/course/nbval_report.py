"""pytest plugin for every sandboxed grading run: reports each notebook cell's outcome.

The grader (:mod:`nnkit.course.sandbox`) runs this file as a script, which runs
``pytest --nbval-lax`` with the file itself as a plugin (running it by path, not as
``nnkit.course.…``, keeps the whole nnkit package out of the pytest process). It passes
two pipes: one carries a secret token in, the other carries one JSON line per executed cell
out, each line signed with the token. The student's kernel inherits neither pipe and never
sees the token, so it cannot forge a result; the grader ignores every line without it.

Before the student's code runs, the plugin also makes this process undumpable (so a process
of the same user cannot read its memory or open its pipes through ``/proc``) and deletes the
notebook file and the kernel's connection file from disk.

It reads nbval's items (``cell_num``, ``cell``, ``test_outputs``, the notebook's ``kernel``
and ``timed_out``), which are nbval 0.11's internals: requirements.txt pins nbval < 0.12.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import signal
import sys

import pytest

# nbformat's schema validation imports jsonschema, whose optional IRI checker builds a grammar
# at import time (1-2 s of CPU per run). nbval never validates IRIs, so block that import
# (this module runs before nbval is imported).
sys.modules.setdefault("rfc3987_syntax", None)

_PR_SET_DUMPABLE = 4
_MESSAGE_LIMIT = 4000
_TIMED_OUT_BEFORE = pytest.StashKey[bool]()  # nbval's timed_out flag as a cell's setup found it


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("nnkit-course", "nnkit grading sandbox")
    group.addoption("--course-token-fd", type=int, help="pipe to read the report token from")
    group.addoption("--course-report-fd", type=int, help="pipe to write one JSON line per cell to")


def pytest_configure(config: pytest.Config) -> None:
    token_fd, report_fd = config.getoption("course_token_fd"), config.getoption("course_report_fd")
    if token_fd is None or report_fd is None:
        return
    with os.fdopen(token_fd, "rb") as pipe:
        token = pipe.read().decode()
    with contextlib.suppress(OSError, AttributeError):  # not Linux: no /proc to read us through
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    reporter = _Reporter(token, os.fdopen(report_fd, "w", buffering=1))
    config.pluginmanager.register(reporter, "course-reporter")


def _exit_status(process) -> str | None:
    """How the kernel process ended ("exit code 3", "signal SIGKILL"), or None while it runs."""
    code = process.poll() if process is not None else None
    if code is None:
        return None
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def _error(item: pytest.Item, call: pytest.CallInfo) -> tuple[str, str]:
    """(exception name, message) of a failed cell's error output; ("", nbval's message) when the
    kernel gave none (a timeout, a dead kernel)."""
    for output in getattr(item, "test_outputs", None) or []:
        if output.get("output_type") == "error":
            return str(output.get("ename", "")), str(output.get("evalue", ""))[:_MESSAGE_LIMIT]
    exc = call.excinfo.value
    return "", str(exc.args[0] if exc.args else exc)[:_MESSAGE_LIMIT]


class _Reporter:
    """Writes one signed JSON line per notebook cell to the grader's pipe."""

    def __init__(self, token: str, pipe) -> None:
        self.token, self.pipe = token, pipe
        self.kernel_process = None

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for path in {item.path for item in session.items}:
            path.unlink(missing_ok=True)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = (yield).get_result()
        notebook = item.parent
        if report.when == "setup":
            self._first_contact(notebook)
            item.stash[_TIMED_OUT_BEFORE] = bool(getattr(notebook, "timed_out", False))
            if report.passed:
                return
        elif report.when != "call":
            return
        self._send({
            "cell": item.cell_num,
            "phase": report.when,
            "outcome": report.outcome,
            "xfail": hasattr(report, "wasxfail"),
            "error": _error(item, call) if call.excinfo is not None else None,
            "timed_out": bool(getattr(notebook, "timed_out", False)) and not item.stash[_TIMED_OUT_BEFORE],
            "kernel": _exit_status(self.kernel_process),
            "sha256": hashlib.sha256(item.cell.source.encode()).hexdigest(),
        })
        item.test_outputs = None  # a cell's output can be huge: keep nothing once it is reported

    def _first_contact(self, notebook) -> None:
        """Once the kernel runs: remember its process and remove its connection file (it holds the key)."""
        kernel = getattr(notebook, "kernel", None)
        if self.kernel_process is not None or kernel is None or not hasattr(kernel, "km"):
            return
        self.kernel_process = getattr(kernel.km.provisioner, "process", None)
        with contextlib.suppress(OSError):
            os.remove(kernel.km.connection_file)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self._send({"done": True})
        self.pipe.close()

    def _send(self, record: dict) -> None:
        with contextlib.suppress(OSError, ValueError):  # the grader has gone: nobody to tell
            self.pipe.write(json.dumps({"token": self.token, **record}) + "\n")


if __name__ == "__main__":
    sys.exit(pytest.main(sys.argv[1:], plugins=[sys.modules[__name__]]))
