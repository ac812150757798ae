"""The student's process: started in a bubblewrap sandbox, talked to through two pipes.

:class:`StudentProcess` starts ``python -m nnkit.course.student`` (see that module) and
exchanges plain-data messages with it, each read within a deadline. Sandboxed (the
default), it runs under ``bwrap`` (Debian's ``bubblewrap``, the sandbox of Flatpak) with:

- its own user (nobody), PID, network, IPC, UTS and mount namespaces: it sees only its own
  processes, has no network, and cannot signal or trace anything outside;
- a read-only view of what Python needs (``/usr``, the Python installation, the virtual
  environment, the ``nnkit`` package) and nothing else: no ``solutions/``, no grader files,
  no other submission, no output folder, no home folder;
- a private writable ``/tmp`` of at most ``Limits.disk_mb`` (its working folder and HOME);
- a cleared environment (a few variables set for NumPy, matplotlib and nnkit);
- no capabilities, a new session (no terminal), and death with its parent.

Limits: as root, or wherever the cgroup folders are writable, each run gets its own cgroup
with ``memory_mb`` for all its processes together (plus its ``/tmp`` and the libraries'
page cache), ``processes`` and one CPU. Elsewhere the PID
namespace still ends every process with the run, but memory is limited per process
(``RLIMIT_AS``) and the number of processes is not limited. Every process also gets
``RLIMIT_AS``, ``RLIMIT_CPU``, ``RLIMIT_FSIZE`` and no core dumps.

Without bubblewrap (macOS, no user namespaces) :func:`sandbox_problem` says why, and the
grader refuses to run unless the instructor explicitly accepts the risk
(``unsandboxed=True``): the student's code then runs as the instructor's user, with the same
plain-data contract but none of the isolation above.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import resource
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from .plain import MAX_MESSAGE, PlainDataError

__all__ = ["Limits", "DEFAULT_LIMITS", "StudentProcess", "StudentGone", "StudentTimeout", "sandbox_problem",
           "limits_per_submission", "BWRAP", "remove_cgroups"]

BWRAP = "bwrap"            # the bubblewrap binary, looked up on PATH
_LOG_LIMIT = 32 << 10
_LIBRARIES_MB = 256        # the cgroup's room for the page cache of Python, NumPy and nnkit
_LENGTH = struct.Struct("<Q")


@dataclass(frozen=True)
class Limits:
    """Resource limits for one submission.

    cell_timeout: seconds a cell may run before the student's code is interrupted.
    wall_timeout: seconds the whole submission may take before everything is killed.
    memory_mb:    address space of each process, and memory of the whole submission (cgroup; plus
                  its /tmp and 256 MiB of page cache, so one process meets MemoryError first).
    cpu_seconds:  CPU time of each process.
    file_mb:      the largest file a process may write.
    disk_mb:      the size of the private /tmp.
    processes:    processes of the whole submission (cgroup only).
    """

    cell_timeout: float = 60
    wall_timeout: float = 900
    memory_mb: int = 4096
    cpu_seconds: int = 600
    file_mb: int = 64
    disk_mb: int = 128
    processes: int = 64


DEFAULT_LIMITS = Limits()


class StudentGone(Exception):
    """The student's process has ended (or was killed); ``status`` says how."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


class StudentTimeout(Exception):
    """No answer from the student's process before the deadline."""


def _readonly_paths() -> list[str]:
    """What the student's Python needs to see: the system, the Python installation, the venv, nnkit."""
    from .. import __file__ as nnkit_init

    paths = ["/usr", "/etc/alternatives", "/etc/ld.so.cache", sys.base_prefix, sys.prefix,
             os.path.dirname(os.path.realpath(sys.executable)), os.path.dirname(os.path.abspath(nnkit_init))]
    paths += [p for p in sys.path if "-packages" in p]
    found = []
    for path in paths:
        path = os.path.abspath(path)
        if os.path.exists(path) and not any(path == f or path.startswith(f + "/") for f in found):
            found = [f for f in found if not f.startswith(path + "/")] + [path]
    return sorted(found)


def _bwrap_command(limits: Limits, info_fd: int, extra: list[str]) -> list[str]:
    command = [shutil.which(BWRAP) or BWRAP, "--unshare-all", "--die-with-parent", "--new-session",
               "--cap-drop", "ALL", "--uid", "65534", "--gid", "65534"]
    for path in _readonly_paths():
        command += ["--ro-bind", path, path]
    for link in ("bin", "lib", "lib64", "sbin"):
        target = f"/{link}"
        if os.path.islink(target):
            command += ["--symlink", os.readlink(target), target]
        elif os.path.isdir(target):
            command += ["--ro-bind", target, target]
    command += ["--dev", "/dev", "--proc", "/proc", "--size", str(limits.disk_mb << 20), "--tmpfs", "/tmp",
                "--chdir", "/tmp", "--clearenv", "--info-fd", str(info_fd)]
    for name, value in _environment("/tmp").items():
        command += ["--setenv", name, value]
    return command + extra


def _environment(home: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8", "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": f"{home}/.matplotlib", "NNKIT_BACKEND": "numpy", "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0", "MALLOC_ARENA_MAX": "2"}


def _student_argv() -> list[str]:
    return [sys.executable, "-s", "-m", "nnkit.course.student"]


@functools.cache
def sandbox_problem() -> str | None:
    """Why no sandbox can run here (None when bubblewrap works)."""
    if sys.platform != "linux":
        return f"bubblewrap needs Linux (this is {sys.platform})"
    if shutil.which(BWRAP) is None:
        return f"`{BWRAP}` is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    read, write = os.pipe()
    try:
        result = subprocess.run(_bwrap_command(Limits(), write, ["--", "/bin/true"]), pass_fds=(write,),
                                capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`{BWRAP}` does not start ({exc})"
    finally:
        os.close(read)
        os.close(write)
    if result.returncode:
        return f"`{BWRAP}` cannot make a sandbox here: {result.stderr.strip()[:300]}"
    return None


class _Cgroup:
    """A cgroup (v1 or v2) for one submission: memory, processes and CPU of all its processes."""

    def __init__(self, limits: Limits, tag: str) -> None:
        self.folders: list[Path] = []
        name = f"nnkit-grade-{tag}-{uuid.uuid4().hex[:8]}"
        memory = (limits.memory_mb + limits.disk_mb + _LIBRARIES_MB) << 20   # /tmp and page cache count too
        settings = {"memory": {"memory.limit_in_bytes": memory, "memory.memsw.limit_in_bytes": memory},
                    "pids": {"pids.max": limits.processes},
                    "cpu": {"cpu.cfs_period_us": 100_000, "cpu.cfs_quota_us": 100_000},
                    "": {"memory.max": memory, "memory.swap.max": 0, "pids.max": limits.processes,
                         "cpu.max": "100000 100000"}}     # "": cgroup v2, one hierarchy for all
        self.limited = False    # whether the memory limit took (cgroup v2 often lacks delegation)
        for controller, base in _cgroup_bases():
            folder = base / name
            try:
                folder.mkdir()
            except OSError:
                continue
            self.folders.append(folder)
            for key, value in settings[controller].items():
                with contextlib.suppress(OSError):
                    (folder / key).write_text(str(value))
                    self.limited |= key.startswith("memory.")

    @property
    def active(self) -> bool:
        return bool(self.folders)

    def enter(self) -> None:
        """Move the calling process into the cgroup (run in the child between fork and exec)."""
        for folder in self.folders:
            with contextlib.suppress(OSError):
                with open(folder / "cgroup.procs", "w") as f:
                    f.write(str(os.getpid()))

    def out_of_memory(self) -> bool:
        for folder in self.folders:
            for name, key in (("memory.events", "oom_kill "), ("memory.oom_control", "oom_kill ")):
                with contextlib.suppress(OSError):
                    for line in (folder / name).read_text().splitlines():
                        if line.startswith(key) and int(line.split()[1]) > 0:
                            return True
        return False

    def kill_all(self) -> None:
        _kill_all(self.folders)

    def remove(self) -> None:
        _kill_all(self.folders)
        _remove(self.folders)


def _kill_all(folders: list[Path]) -> None:
    """SIGKILL every process in the cgroups ``folders`` until none is left."""
    for _ in range(50):
        pids = set()
        for folder in folders:
            with contextlib.suppress(OSError):
                pids |= {int(p) for p in (folder / "cgroup.procs").read_text().split()}
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)


def _remove(folders: list[Path]) -> None:
    for folder in folders:
        for _ in range(50):
            try:
                folder.rmdir()
                break
            except OSError:
                time.sleep(0.02)


def remove_cgroups(tag: str) -> None:
    """Kill the processes of, and remove, every cgroup a run tagged ``tag`` left (its referee was killed)."""
    folders = [folder for _, base in _cgroup_bases() for folder in base.glob(f"nnkit-grade-{tag}-*")]
    _kill_all(folders)
    _remove(folders)


@functools.cache
def limits_per_submission() -> bool:
    """Whether each submission gets cgroup limits here (else memory is limited per process only)."""
    cgroup = _Cgroup(Limits(), "probe")
    try:
        return cgroup.limited
    finally:
        cgroup.remove()


def _cgroup_bases() -> list[tuple[str, Path]]:
    """(controller, folder) of this process's writable cgroups: memory, pids, cpu (v1), or "" (v2)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    bases = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            root = Path("/sys/fs/cgroup")
            found = [("", root)] if (root / "cgroup.controllers").exists() else []
        else:
            found = [(name, Path("/sys/fs/cgroup") / name) for name in controllers.split(",")
                     if name in ("memory", "pids", "cpu")]
        for controller, root in found:
            base = root / path.lstrip("/")
            if base.is_dir() and os.access(base, os.W_OK):
                bases.append((controller, base))
    return bases


def _child_setup(limits: Limits, cgroup: _Cgroup | None) -> None:
    """Runs in the child between fork and exec: cgroup, then the per-process limits."""
    if cgroup is not None:
        cgroup.enter()
    mib = 1 << 20
    for which, values in ((resource.RLIMIT_AS, (limits.memory_mb * mib,) * 2),
                          (resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5)),
                          (resource.RLIMIT_FSIZE, (limits.file_mb * mib,) * 2),
                          (resource.RLIMIT_CORE, (0, 0))):
        resource.setrlimit(which, values)


class StudentProcess:
    """The student's process and the two pipes to it.

    limits:      see :class:`Limits`.
    sandboxed:   run under bubblewrap (True) or as this user, unprotected (False: only for
                 the instructor's own code, or when the instructor accepted the risk).
    """

    def __init__(self, limits: Limits, sandboxed: bool = True, tag: str = "") -> None:
        self.limits, self.sandboxed = limits, sandboxed
        self.log = bytearray()
        self._buffer = bytearray()
        self.cgroup = _Cgroup(limits, tag or uuid.uuid4().hex[:8]) if sandboxed else None
        self.folder = None if sandboxed else tempfile.mkdtemp(prefix="nnkit-student-")
        to_child, self._to_child = os.pipe()
        self._from_child, from_child = os.pipe()
        log_read, log_write = os.pipe()
        info_read, info_write = os.pipe()
        if sandboxed:
            command = _bwrap_command(limits, info_write, ["--", *_student_argv()])
            env, cwd = {}, "/"
        else:
            command, env, cwd = _student_argv(), _environment(self.folder), self.folder
            env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        try:
            self.process = subprocess.Popen(
                command, stdin=to_child, stdout=from_child, stderr=log_write, pass_fds=(info_write,),
                env=env, cwd=cwd, start_new_session=True,
                preexec_fn=functools.partial(_child_setup, limits, self.cgroup if self.cgroup and
                                             self.cgroup.active else None))
        finally:
            for fd in (to_child, from_child, log_write, info_write):
                os.close(fd)
        self.child_pid = self.process.pid
        if sandboxed:
            self.child_pid = self._read_child_pid(info_read)
        os.close(info_read)
        os.set_blocking(self._to_child, False)
        self._drain = threading.Thread(target=self._keep_log, args=(log_read,), daemon=True)
        self._drain.start()

    def _read_child_pid(self, fd: int) -> int:
        """The sandboxed Python's pid (outside the sandbox), from bwrap's --info-fd."""
        data = b""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                data += chunk
                with contextlib.suppress(ValueError):
                    return int(json.loads(data)["child-pid"])
        return self.process.pid

    def _keep_log(self, fd: int) -> None:
        """Read the student's stdout and stderr until it closes them; keep only the tail."""
        with contextlib.suppress(OSError):
            while chunk := os.read(fd, 1 << 16):
                self.log += chunk
                del self.log[:-_LOG_LIMIT]
        os.close(fd)

    def send(self, data: bytes, deadline: float) -> None:
        """Write one message; StudentTimeout when the student does not read it in time."""
        view = memoryview(_LENGTH.pack(len(data)) + data)
        while view:
            if self.process.poll() is not None:
                raise StudentGone(self.status())
            left = deadline - time.monotonic()
            if left <= 0:
                raise StudentTimeout()
            _, ready, _ = select.select([], [self._to_child], [], min(left, 0.5))
            if ready:
                try:
                    view = view[os.write(self._to_child, view):]
                except BlockingIOError:
                    continue
                except (BrokenPipeError, OSError):
                    raise StudentGone(self.status()) from None

    def receive(self, deadline: float) -> bytes:
        """Read one message; StudentTimeout at the deadline, StudentGone when the student has ended."""
        while True:
            if len(self._buffer) >= 8:
                (size,) = _LENGTH.unpack_from(self._buffer)
                if size > MAX_MESSAGE:
                    self.kill()
                    raise PlainDataError(f"a message of {size >> 20} MiB from the student's process")
                if len(self._buffer) >= 8 + size:
                    data = bytes(self._buffer[8:8 + size])
                    del self._buffer[:8 + size]
                    return data
            left = deadline - time.monotonic()
            if left <= 0:
                raise StudentTimeout()
            ready, _, _ = select.select([self._from_child], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(self._from_child, 1 << 20)
                if not chunk:
                    self.process.wait()
                    raise StudentGone(self.status())
                self._buffer += chunk

    def interrupt(self) -> None:
        """KeyboardInterrupt in the student's code (as Jupyter's interrupt button)."""
        with contextlib.suppress(OSError):
            os.kill(self.child_pid, signal.SIGINT)

    def status(self) -> str:
        """How the student's process ended ("exit code 3", "signal SIGKILL", "out of memory")."""
        code = self.process.poll()
        if self.sandboxed and code is not None and code & 0x80 and code > 128:
            code = -(code - 128)            # bwrap reports a child killed by signal N as 128 + N
        if self.cgroup is not None and self.cgroup.out_of_memory():
            return f"out of memory (limit {self.limits.memory_mb} MiB for the submission)"
        if code is None:
            return "running"
        if code < 0:
            try:
                return f"signal {signal.Signals(-code).name}"
            except ValueError:
                return f"signal {-code}"
        return f"exit code {code}"

    def kill(self) -> None:
        """End the student's process and everything it started."""
        with contextlib.suppress(OSError):
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.cgroup is not None:
            self.cgroup.kill_all()
        with contextlib.suppress(OSError):
            self.process.kill()
        self.process.wait()

    def close(self) -> None:
        """Kill the process, close the pipes, remove the cgroup and the private folder."""
        self.kill()
        for fd in (self._to_child, self._from_child):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._drain.join(timeout=2)
        if self.cgroup is not None:
            self.cgroup.remove()
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> StudentProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
