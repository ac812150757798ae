"""Run one untrusted notebook under ``pytest --nbval-lax`` with limits, and read back each cell's outcome.

Each run gets a private folder (its working directory, HOME, TMPDIR and Jupyter/IPython/
matplotlib folders), a minimal environment, and resource limits inherited by pytest and the
kernel it starts: address space, CPU time, file size, no core dumps. nbval interrupts a cell
that runs past the cell timeout; a wall-clock limit kills the whole run. Results come back
only through a pipe, as JSON lines signed with a token the kernel never sees
(:mod:`nnkit.course.nbval_report`), so nothing the student's code writes can change them.

A :class:`Janitor` makes the grading process the "subreaper" of everything the runs start
(Linux): a process that detaches itself (double fork, ``setsid``) is re-parented to the
grader instead of init, and is killed when its run ends.

Not defended: the runs share the grader's user, so a determined hostile notebook can read
any file that user can read (the solution notebooks included), use the network, start
processes without a count limit (``RLIMIT_NPROC`` would count all of the user's processes),
or disturb a run that is going on at the same time: kill it, or edit its notebook before
pytest reads it (caught by a checksum: status "tampered"). Grade with ``jobs=1`` to rule
the last out. Code in the kernel can also redefine the check helpers and fake a pass; the
grader flags solution cells that reach for such things, it cannot stop them. Run the
grader as an ordinary user in a throwaway account or container, never as root (root
ignores some limits and can read any process's memory).
"""

from __future__ import annotations

import contextlib
import ctypes
import hmac
import json
import os
import resource
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import psutil

_PR_SET_CHILD_SUBREAPER = 36
_REPORT_LIMIT = 4 << 20
_LOG_LIMIT = 32 << 10
NOTEBOOK_NAME = "notebook.ipynb"
_PLUGIN = Path(__file__).with_name("nbval_report.py")  # run as a script: see that module


@dataclass(frozen=True)
class Limits:
    """Resource limits for one submission.

    cell_timeout: seconds a cell may run before nbval interrupts it (later cells still run).
    wall_timeout: seconds the whole run may take before it is killed.
    memory_mb:    address-space limit of each process (pytest, the kernel, their children).
    cpu_seconds:  CPU-time limit of each process.
    file_mb:      the largest file a process may write.
    """

    cell_timeout: float = 60
    wall_timeout: float = 900
    memory_mb: int = 4096
    cpu_seconds: int = 600
    file_mb: int = 256


DEFAULT_LIMITS = Limits()


@dataclass
class Run:
    """What came back from one sandboxed run.

    cells:   the plugin's record for each executed code cell, by code-cell index.
    digests: sha256 of each executed cell's source, as pytest read it, by code-cell index.
    done:    pytest finished the session (false when it crashed or was killed).
    killed:  the wall-clock limit was hit.
    log:     the tail of pytest's own output (for the instructor when something broke).
    """

    cells: dict[int, dict] = field(default_factory=dict)
    digests: dict[int, str] = field(default_factory=dict)
    done: bool = False
    killed: bool = False
    log: str = ""


def _set_subreaper(on: bool) -> None:
    """Make this process adopt its descendants' orphans (Linux only; elsewhere they go to init)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0)


class Janitor:
    """Starts the sandboxed processes and kills whatever they leave behind.

    Use as a context manager around a grading session. Inside it, every process that is a
    child of this one but was neither here before nor started by :meth:`spawn` is an orphan
    of a finished or killed run, and :meth:`sweep` kills it with all its descendants.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: set[int] = set()
        self._before: set[int] = set()

    def __enter__(self) -> Janitor:
        self._before = {p.pid for p in psutil.Process().children()}
        _set_subreaper(True)
        return self

    def __exit__(self, *exc) -> None:
        self.sweep()
        _set_subreaper(False)

    def spawn(self, *args, **kwargs) -> subprocess.Popen:
        with self._lock:
            process = subprocess.Popen(*args, **kwargs)
            self._live.add(process.pid)
        return process

    def finished(self, process: subprocess.Popen) -> None:
        with self._lock:
            self._live.discard(process.pid)
        self.sweep()

    def sweep(self) -> None:
        """Kill every stray child process and its descendants, until none is left."""
        for _ in range(10):
            with self._lock:
                keep = self._before | self._live
                strays = [p for p in psutil.Process().children() if p.pid not in keep]
                if not strays:
                    return
                doomed = list(strays)
                for stray in strays:
                    with contextlib.suppress(psutil.Error):
                        doomed += stray.children(recursive=True)
                for process in doomed:
                    with contextlib.suppress(psutil.Error):
                        process.kill()
            psutil.wait_procs(doomed, timeout=5)


def _rlimits(limits: Limits) -> list[tuple[int, tuple[int, int]]]:
    """The resource limits a run's processes inherit, as (resource, (soft, hard)) pairs."""
    mib = 1 << 20
    return [(resource.RLIMIT_AS, (limits.memory_mb * mib,) * 2),
            (resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5)),
            (resource.RLIMIT_FSIZE, (limits.file_mb * mib,) * 2),
            (resource.RLIMIT_CORE, (0, 0))]


def _apply(rlimits: list[tuple[int, tuple[int, int]]]) -> None:
    """Runs in the child between fork and exec, so it does nothing but set the limits."""
    for which, values in rlimits:
        resource.setrlimit(which, values)


def _environment(folder: Path) -> dict[str, str]:
    """A minimal environment that keeps every Jupyter, IPython and matplotlib file inside ``folder``."""
    env = {name: os.environ[name] for name in ("PATH", "LANG", "LC_ALL", "PYTHONPATH") if name in os.environ}
    for name in ("tmp", "runtime", "jupyter", "ipython", "matplotlib"):
        (folder / name).mkdir()
    env.update(
        HOME=str(folder), TMPDIR=str(folder / "tmp"), JUPYTER_RUNTIME_DIR=str(folder / "runtime"),
        JUPYTER_CONFIG_DIR=str(folder / "jupyter"), JUPYTER_DATA_DIR=str(folder / "jupyter"),
        IPYTHONDIR=str(folder / "ipython"), MPLCONFIGDIR=str(folder / "matplotlib"), MPLBACKEND="Agg",
        NNKIT_BACKEND="numpy", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
        MALLOC_ARENA_MAX="2", PYTHONDONTWRITEBYTECODE="1", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
    )
    return env


def _seed_matplotlib_cache(folder: Path) -> None:
    """Copy matplotlib's font list into the run's config folder (building it takes seconds)."""
    try:
        import matplotlib
        cache = Path(matplotlib.get_cachedir())
    except Exception:  # no matplotlib, or no usable cache folder: the kernel builds its own
        return
    for font_list in cache.glob("fontlist-*.json"):
        shutil.copy(font_list, folder / "matplotlib" / font_list.name)


def _command(folder: Path, limits: Limits, token_fd: int, report_fd: int) -> list[str]:
    return [
        sys.executable, str(_PLUGIN), str(folder / NOTEBOOK_NAME),
        "-c", os.devnull, "--rootdir", str(folder), "--noconftest", "-q", "-p", "no:cacheprovider",
        "-p", "nbval.plugin",
        "--course-token-fd", str(token_fd), "--course-report-fd", str(report_fd),
        "--nbval-lax", "--nbval-current-env", f"--nbval-cell-timeout={limits.cell_timeout:g}",
    ]


def _read(process: subprocess.Popen, report_fd: int, log_fd: int,
          deadline: float) -> tuple[bytes, bytes, bool]:
    """Read the report and log pipes until pytest exits (or kill it at ``deadline``).

    Returns (report, log tail, killed). Both reads are capped, so a flood of output cannot
    exhaust the grader's memory.
    """
    report, log = bytearray(), bytearray()
    killed = False
    with selectors.DefaultSelector() as selector:
        selector.register(report_fd, selectors.EVENT_READ, report)
        selector.register(log_fd, selectors.EVENT_READ, log)
        while True:
            left = deadline - time.monotonic()
            if left <= 0 and not killed:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                killed = True
            for key, _ in selector.select(timeout=min(max(left, 0.05), 0.5)):
                chunk = os.read(key.fd, 1 << 16)
                if not chunk:
                    selector.unregister(key.fd)
                elif key.data is report:
                    report += chunk[: max(0, _REPORT_LIMIT - len(report))]
                else:
                    log += chunk
                    del log[:-_LOG_LIMIT]
            report_open = any(key.data is report for key in selector.get_map().values())
            if process.poll() is not None and not report_open:
                return bytes(report), bytes(log), killed


def _parse(report: bytes, token: str) -> Run:
    """The records in ``report`` that carry ``token``; anything else is ignored."""
    run = Run()
    for line in report.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict) or not hmac.compare_digest(str(record.pop("token", "")), token):
            continue
        if record.get("done"):
            run.done = True
        elif isinstance(record.get("cell"), int):
            run.cells[record["cell"]] = record
            run.digests[record["cell"]] = str(record.get("sha256"))
    return run


def run_notebook(notebook: str, limits: Limits, janitor: Janitor) -> Run:
    """Run the notebook source ``notebook`` in a fresh private folder under ``limits``."""
    folder = Path(tempfile.mkdtemp(prefix="nnkit-grade-"))
    try:
        (folder / NOTEBOOK_NAME).write_text(notebook, encoding="utf-8")
        env = _environment(folder)
        _seed_matplotlib_cache(folder)
        token = secrets.token_hex(16)
        token_read, token_write = os.pipe()
        report_read, report_write = os.pipe()
        log_read, log_write = os.pipe()
        os.write(token_write, token.encode())
        os.close(token_write)
        try:
            process = janitor.spawn(
                _command(folder, limits, token_read, report_write), cwd=folder, env=env,
                stdin=subprocess.DEVNULL, stdout=log_write, stderr=log_write,
                pass_fds=(token_read, report_write), start_new_session=True,
                preexec_fn=partial(_apply, _rlimits(limits)))
        finally:
            for fd in (token_read, report_write, log_write):
                os.close(fd)
        try:
            deadline = time.monotonic() + limits.wall_timeout
            report, log, killed = _read(process, report_read, log_read, deadline)
            process.wait()
        finally:
            os.close(report_read)
            os.close(log_read)
            janitor.finished(process)
        run = _parse(report, token)
        run.killed, run.log = killed, log.decode(errors="replace")
        return run
    finally:
        shutil.rmtree(folder, ignore_errors=True)
