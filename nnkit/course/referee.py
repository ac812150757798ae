"""The trusted side of a grading run: runs the instructor's cells, calls the student's through proxies.

For each code cell of the grading notebook, in order:

- a ``solution:*`` cell (the student's code) runs only in the student's process
  (:mod:`nnkit.course.student`, sandboxed by :mod:`nnkit.course.sandbox`); here, each
  function that the instructor's version of the cell defines becomes a *proxy*: calling it
  sends the arguments to the student's process as plain data (:mod:`nnkit.course.plain`),
  calls the student's function there, and returns its result as plain data. Arguments the
  function changed in place are changed here too, so checks see what a student sees.
- a ``check:*`` cell runs only here, in the referee's own namespace, with the proxies: it
  passes when it raises nothing. The student's code never sees its source, its hidden
  tests, its expected values or this process.
- any other cell (setup, demonstrations) runs in both places.

``python -m nnkit.course.referee`` reads a job (JSON) on stdin and writes one JSON line per
variant on stdout. :mod:`nnkit.course.grade` grades with one variant per submission;
:mod:`nnkit.course.verify` runs all variants of a chapter with one student process.
"""

from __future__ import annotations

import builtins
import contextlib
import inspect
import json
import os
import sys
import time
from typing import Any

import numpy as np

from .. import backend
from .checks import ChangedInPlace
from .plain import PlainDataError, pack, unpack
from .sandbox import Limits, StudentGone, StudentProcess, StudentTimeout

__all__ = ["Referee", "StudentError", "main"]

_STARTUP = 120   # seconds the student's process may take to import numpy and nnkit
_NOT_PASSED_ON = (StopIteration, StopAsyncIteration)


class StudentError(Exception):
    """The student's function raised an exception that is not one of Python's built-in ones."""


class _CellTimeout(BaseException):
    """The student's code ran past the cell timeout (a BaseException: check code cannot catch it)."""


class _StudentDied(BaseException):
    """The student's process has ended; ``args[0]`` says how."""


def _student_exception(name: str, error: Any) -> Exception:
    """The exception to raise here for ``error`` = [class name, message] raised by the student's ``name``."""
    ename, evalue = map(str, error) if isinstance(error, list) and len(error) == 2 else ("", repr(error))
    kind = getattr(builtins, ename, None)
    if isinstance(kind, type) and issubclass(kind, Exception) and not issubclass(kind, _NOT_PASSED_ON):
        with contextlib.suppress(Exception):
            return kind(evalue)
    return StudentError(f"{name} raised {ename}: {evalue}")


def _is_nnkit(value: Any) -> bool:
    return hasattr(value, "__dict__") and type(value).__module__.startswith("nnkit.")


def _same(a: Any, b: Any) -> bool:
    """Whether two plain-data values are equal all the way down (arrays: same shape, dtype and values)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and a.dtype == b.dtype and \
            bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, np.random.Generator):
        return a.bit_generator.state == b.bit_generator.state
    if _is_nnkit(a):
        return _same(vars(a), vars(b))
    try:
        return bool(a == b) or (a != a and b != b)
    except Exception:  # noqa: BLE001 (values that cannot be compared are not the same)
        return False


def _merge(original: Any, new: Any, path: str, changed: list[str], top: bool = True,
           inplace: bool = True) -> Any:
    """Make ``original`` look like ``new`` (the student's copy after the call); return what to keep.

    Containers, generators and nnkit objects are updated in place (so every name that refers
    to them sees the change). Arrays are written into in place only where the student's
    function could have done so (an argument, or inside lists and dicts of arguments:
    ``inplace``); inside nnkit objects, attributes are rebound to new arrays, so no array the
    referee shares with other objects is ever written by the student. An argument itself
    (``top``) is never replaced by another kind of value. ``changed`` gets a description of
    each change.
    """
    if _same(original, new) or (new is None and callable(original)):   # callbacks come back as None
        return original
    if isinstance(original, np.ndarray) and isinstance(new, np.ndarray) and inplace and \
            original.shape == new.shape and original.dtype == new.dtype and original.flags.writeable:
        original[...] = new
    elif isinstance(original, np.random.Generator) and isinstance(new, np.random.Generator):
        original.bit_generator.state = new.bit_generator.state
    elif isinstance(original, list) and isinstance(new, list):
        kept = [_merge(o, n, f"{path}[{i}]", [], False, inplace)
                for i, (o, n) in enumerate(zip(original, new, strict=False))]
        original[:] = kept + new[len(original):]
    elif isinstance(original, dict) and isinstance(new, dict):
        merged = {key: _merge(original[key], value, f"{path}[{key!r}]", [], False, inplace) if key in original
                  else value for key, value in new.items()}
        original.clear()
        original.update(merged)
    elif isinstance(original, tuple) and isinstance(new, tuple) and len(original) == len(new) and top:
        for i, (o, n) in enumerate(zip(original, new, strict=True)):
            _merge(o, n, f"{path}[{i}]", [], True, inplace)
    elif _is_nnkit(original) and type(new) is type(original):
        attributes = vars(original)
        for key, value in vars(new).items():
            if key not in attributes and (hasattr(type(original), key) or _is_nnkit(value)):
                raise StudentError(f"{path}: the function gave it a new attribute {key!r}")
            attributes[key] = _merge(attributes[key], value, f"{path}.{key}", [], False, False) \
                if key in attributes else value
    elif top:
        what = f"an array of shape {new.shape}" if isinstance(new, np.ndarray) else f"a {type(new).__name__}"
        raise StudentError(f"{path}: the function changed it in place into {what} (not copied back)")
    else:
        original = new
    changed.append(path)
    return original


class Referee:
    """Runs grading notebooks (as lists of cells, see :func:`main`) against one student process."""

    def __init__(self, limits: Limits, sandboxed: bool = True, tag: str = "") -> None:
        self.limits, self.sandboxed, self.tag = limits, sandboxed, tag
        self.student: StudentProcess | None = None
        self.dead: str | None = None
        self.deadline = 0.0
        self.mutated: list[str] = []       # what the current cell's calls changed in place
        self._numpy = dict(vars(np))

    # ------------------------------------------------------------------ the student's process
    def _start(self) -> None:
        self.close()
        self.dead = None
        self.student = StudentProcess(self.limits, self.sandboxed, self.tag)
        try:
            ready = unpack(self.student.receive(time.monotonic() + _STARTUP))
        except (StudentGone, StudentTimeout, PlainDataError) as exc:
            self.dead = f"did not start ({getattr(exc, 'status', type(exc).__name__)})"
            return
        if ready != {"op": "ready"}:
            self.dead = "did not start (it said something else first)"

    def close(self) -> None:
        if self.student is not None:
            self.student.close()
            self.student = None

    def log(self) -> str:
        return self.student.log.decode(errors="replace") if self.student is not None else ""

    def _exchange(self, data: bytes, callbacks: list) -> dict:
        """Send a request; serve the student's callbacks until its answer comes; return the answer."""
        if self.dead or self.student is None:
            raise _StudentDied(self.dead or "not started")
        try:
            self.student.send(data, self.deadline)
            while True:
                message = unpack(self.student.receive(self.deadline))
                if not isinstance(message, dict):
                    raise PlainDataError("an answer that is not a message")
                if message.get("op") != "callback":
                    return message
                self.student.send(self._answer_callback(message, callbacks), self.deadline)
        except StudentTimeout:
            self.student.kill()
            self.dead = "was stopped after the cell timeout"
            raise _CellTimeout() from None
        except PlainDataError as exc:   # only a process that writes into its own pipe gets here
            self.student.kill()
            self.dead = f"was stopped (it sent {exc})"
            raise _StudentDied(self.dead) from None
        except StudentGone as exc:
            self.dead = f"died ({exc.status})"
            raise _StudentDied(self.dead) from None

    def _answer_callback(self, message: dict, callbacks: list) -> bytes:
        number, args, kwargs = message.get("id"), message.get("args"), message.get("kwargs")
        if not (isinstance(number, int) and 0 <= number < len(callbacks) and isinstance(args, list)
                and isinstance(kwargs, dict) and all(isinstance(k, str) for k in kwargs)):
            return pack({"op": "raise", "error": ["TypeError", "a malformed callback"]})
        try:
            return pack({"op": "return", "value": callbacks[number](*args, **kwargs)})
        except Exception as exc:  # the instructor's callable refused (e.g. a switched-off np.tanh)
            return pack({"op": "raise", "error": [type(exc).__name__, str(exc)[:4000]]})

    # ------------------------------------------------------------------ proxies
    def proxy(self, name: str, parameters: list[str] | None = None):
        """The trusted stand-in for the student's function ``name``; ``parameters``: the names of
        its positional parameters in the instructor's version (shown by ``inspect.signature``)."""
        def call(*args, **kwargs):
            return self._call(name, args, kwargs)
        call.__name__ = call.__qualname__ = name
        if parameters is not None:
            call.__signature__ = inspect.Signature(
                [inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in parameters])
        call.__doc__ = f"The student's {name}, called in their sandboxed process with plain-data arguments."
        return call

    def _call(self, name: str, args: tuple, kwargs: dict) -> Any:
        callbacks: list = []

        def register(function) -> int:
            callbacks.append(function)
            return len(callbacks) - 1

        patches = {attr: value for attr, value in vars(np).items()
                   if attr in self._numpy and value is not self._numpy[attr] and callable(value)}
        request = {"op": "call", "name": name, "args": list(args), "kwargs": kwargs, "random": backend.rng(),
                   "patches": patches}
        try:
            data = pack(request, callback=register)
        except PlainDataError as exc:
            raise TypeError(f"{name}: an argument cannot be passed to the student's code: {exc} (see the "
                            "grading contract in nnkit.course)") from None
        reply = self._exchange(data, callbacks)
        if reply.get("op") == "error":
            raise _student_exception(name, reply.get("error"))
        if reply.get("op") != "result" or not isinstance(reply.get("args"), list) or \
                len(reply["args"]) != len(args) or not isinstance(reply.get("kwargs"), dict) or \
                reply["kwargs"].keys() != kwargs.keys():
            raise StudentError(f"{name}: its process answered out of turn")
        changed: list[str] = []
        for where, original, new in [*zip(range(len(args)), args, reply["args"], strict=True),
                                     *((key, kwargs[key], reply["kwargs"][key]) for key in kwargs)]:
            try:
                _merge(original, new, f"argument {where + 1 if isinstance(where, int) else where}", changed)
            except StudentError as exc:   # an argument changed into something that cannot be copied back
                raise ChangedInPlace(where, str(exc)) from None
        if isinstance(reply.get("random"), np.random.Generator):
            backend.rng().bit_generator.state = reply["random"].bit_generator.state
        self.mutated += [f"{name} changed {what} in place" for what in changed]
        value = reply.get("value")
        returned = [*reply["args"], *reply["kwargs"].values()]
        for original, new in zip([*args, *kwargs.values()], returned, strict=True):
            if value is new and not isinstance(new, (int, float, str, bool, type(None))):
                return original
        return value

    # ------------------------------------------------------------------ running a notebook
    def run(self, cells: list[dict], report=lambda record: None, until_caught: bool = False) -> list[dict]:
        """Run one grading notebook's code cells; one record per cell (see :func:`main`), each also
        passed to ``report`` as soon as it is made.

        until_caught: stop after the first check that does not pass (``verify``'s wrong answers:
        one failed check is all it needs to know)."""
        if self.student is None or self.dead:
            self._start()
        else:
            self.deadline = time.monotonic() + self.limits.cell_timeout
            with contextlib.suppress(_StudentDied, _CellTimeout):
                self._exchange(pack({"op": "reset"}), [])
        namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        records = []
        for index, cell in enumerate(cells):
            self.mutated = []
            record = {"index": index, "kind": cell["kind"], "name": cell.get("name"), "outcome": "passed",
                      "error": None, "timed_out": False, "died": None}
            self.deadline = time.monotonic() + self.limits.cell_timeout
            was_dead = self.dead
            try:
                if cell["kind"] != "check":
                    reply = self._exchange(pack({"op": "run", "source": cell["source"]}), [])
                    if reply.get("op") != "done":
                        raise StudentError("the student's process answered out of turn")
                    error = reply.get("error")
                    if error and cell["kind"] == "solution":
                        error = error if isinstance(error, list) and len(error) == 2 else ["", repr(error)]
                        record.update(outcome="failed", error=[str(error[0])[:100], str(error[1])[:4000]])
            except _CellTimeout:
                record.update(outcome="failed", timed_out=True)
            except _StudentDied as exc:
                record.update(outcome="not run" if was_dead else "failed", died=str(exc))
            except Exception as exc:  # noqa: BLE001 (one odd answer must not stop the run)
                record.update(outcome="failed", error=[type(exc).__name__, str(exc)[:4000]])
            if cell["kind"] == "solution":
                for name in cell.get("defines", []):
                    namespace[name] = self.proxy(name, cell.get("parameters", {}).get(name))
            else:
                self._trusted(cell["source"], namespace, record, was_dead)
            record["mutated"] = self.mutated
            records.append(record)
            report(record)
            if until_caught and cell["kind"] == "check" and record["outcome"] != "passed":
                break
        return records

    def _trusted(self, source: str, namespace: dict, record: dict, was_dead: str | None) -> None:
        """Run an instructor's cell here; a check fails on any exception, timeout or dead student."""
        try:
            exec(compile(source, "<cell>", "exec"), namespace)
        except _CellTimeout:
            record.update(outcome="failed", timed_out=True)
        except _StudentDied as exc:
            record.update(outcome="not run" if was_dead else "failed", died=str(exc))
        except BaseException as exc:  # noqa: BLE001 (the check failed, whatever it raised)
            if record["outcome"] == "passed":
                record.update(outcome="failed", error=[type(exc).__name__, str(exc)[:4000]])


def main() -> None:
    """Read a job on stdin, write JSON lines on stdout: one per cell as it ends, one per variant at its end.

    The job: ``{"limits": {...Limits fields}, "sandboxed": bool, "tag": str, "variants": [{"label": str,
    "cells": [{"kind": "solution" | "check" | "other", "name": str | None, "source": str,
    "defines": [function names of the instructor's solution cell]}], "until_caught": bool (optional,
    see :meth:`Referee.run`)}]}``.
    A cell's line: ``{"label", "record": {"index", "kind", "name", "outcome": "passed" | "failed" |
    "not run", "error": [name, message] | None, "timed_out", "died", "mutated": [...]}}``; a variant's
    last line: ``{"label", "done": true, "log": the tail of the student's output}``.
    """
    job = json.load(sys.stdin)
    out = os.fdopen(os.dup(1), "w")
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)                          # what the instructor's cells print goes nowhere
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115

    def write(line: dict) -> None:
        out.write(json.dumps(line, default=str) + "\n")
        out.flush()

    referee = Referee(Limits(**job["limits"]), job["sandboxed"], job.get("tag", ""))
    try:
        for variant in job["variants"]:
            label = variant["label"]
            referee.run(variant["cells"], lambda record, to=label: write({"label": to, "record": record}),
                        variant.get("until_caught", False))
            write({"label": label, "done": True, "log": referee.log()[-8000:]})
    finally:
        referee.close()


if __name__ == "__main__":
    main()
