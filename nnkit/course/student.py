"""The student's side of a grading run: runs inside the sandbox, serves the referee.

``python -m nnkit.course.student`` reads messages (:mod:`nnkit.course.plain`) from its
standard input and answers on its standard output; the student's own prints go to its
standard error. It runs the cells it is sent in one namespace (the student's "kernel") and
calls the student's functions with the arguments it is sent:

- ``{"op": "run", "source": ...}`` → ``{"op": "done", "error": None | [name, message]}``
- ``{"op": "call", "name", "args", "kwargs", "random", "patches"}`` →
  ``{"op": "result", "value", "args", "kwargs", "random"}`` (the arguments as the function
  left them) or ``{"op": "error", "error": [name, message]}``. While the function runs it may
  call back into the trusted side: ``{"op": "callback", "id", "args", "kwargs"}``, answered
  by ``{"op": "return", "value"}`` or ``{"op": "raise", "error"}``.
- ``{"op": "reset"}`` → ``{"op": "done", "error": None}``: forget every name.

Nothing here is trusted: the student's code runs in this process and may rewrite any of it.
That gains nothing, because what goes back is only data that the referee checks.
"""

from __future__ import annotations

import builtins
import os
from typing import Any

import numpy as np

from .. import backend
from .plain import PlainDataError, pack, read_frame, unpack, write_frame


def _error(exc: BaseException) -> list[str]:
    return [type(exc).__name__, str(exc)[:4000]]


def _data(argument: Any) -> Any:
    """An argument as it goes back: a stand-in for one of the referee's callables goes back as None."""
    return None if getattr(argument, "stands_in_for_callback", False) else argument


def _graded_source(source: str) -> str:
    """A cell's source without IPython-only lines (``%magic``, ``%%cell magic``, ``!shell``)."""
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        return ""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)


class Server:
    """Runs cells and calls functions in one namespace; answers through ``send``/``receive``."""

    def __init__(self, receive, send) -> None:
        self.receive, self.send = receive, send
        self.namespace: dict[str, Any] = {}
        self.reset()

    def reset(self) -> None:
        self.namespace.clear()
        self.namespace.update(__name__="__main__", __builtins__=builtins)

    def serve(self) -> dict:
        """Answer requests until a callback's answer (``return`` or ``raise``) arrives; return it."""
        while True:
            message = unpack(self.receive(), self._callback)
            op = message.get("op")
            if op in ("return", "raise"):
                return message
            if op == "run":
                self._send({"op": "done", "error": self._run(message)})
            elif op == "call":
                self._send(self._call(message))
            elif op == "reset":
                self.reset()
                self._send({"op": "done", "error": None})

    def _send(self, message: dict) -> None:
        try:
            data = pack(message)
        except PlainDataError as exc:
            data = pack({"op": "error", "error": ["TypeError", f"what your function gave back cannot be "
                                                               f"graded: {exc}"]})
        self.send(data)

    def _run(self, message: dict) -> list[str] | None:
        try:
            exec(compile(_graded_source(message["source"]), "<cell>", "exec"), self.namespace)
        except BaseException as exc:  # the student's code may raise anything, even SystemExit
            return _error(exc)
        return None

    def _call(self, message: dict) -> dict:
        name = message["name"]
        function = self.namespace.get(name)
        if not callable(function):
            return {"op": "error", "error": ["NameError", f"name {name!r} is not defined as a function"]}
        args, kwargs = message["args"], message["kwargs"]
        originals = {attr: getattr(np, attr) for attr in message["patches"]}
        backend.rng().bit_generator.state = message["random"].bit_generator.state
        try:
            for attr, stand_in in message["patches"].items():
                setattr(np, attr, stand_in)
            value = function(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 (the student's code may raise anything, even SystemExit)
            return {"op": "error", "error": _error(exc)}
        finally:
            for attr, original in originals.items():
                setattr(np, attr, original)
        return {"op": "result", "value": value, "args": [_data(a) for a in args],
                "kwargs": {key: _data(a) for key, a in kwargs.items()}, "random": backend.rng()}

    def _callback(self, number: int):
        def call_back(*args, **kwargs):
            self._send({"op": "callback", "id": number, "args": list(args), "kwargs": kwargs})
            answer = self.serve()
            if answer["op"] == "raise":
                name, text = answer["error"]
                kind = getattr(builtins, name, None)
                if not (isinstance(kind, type) and issubclass(kind, Exception)):
                    kind = RuntimeError
                raise kind(text)
            return answer["value"]
        call_back.stands_in_for_callback = True
        return call_back


def main() -> None:
    """Serve the referee on stdin/stdout until it closes the pipe."""
    requests, replies = os.fdopen(os.dup(0), "rb"), os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(2, 1)                        # the student's prints go to stderr: the referee's log
    server = Server(lambda: read_frame(requests), lambda data: write_frame(replies, data))
    write_frame(replies, pack({"op": "ready"}))
    try:
        server.serve()
    except EOFError:
        pass


if __name__ == "__main__":
    main()
