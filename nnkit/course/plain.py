"""Plain data across the sandbox wall: values as JSON plus ``.npy`` arrays, never pickle.

The grader's trusted side and the student's sandboxed process exchange only messages made
by :func:`pack` and read by :func:`unpack`. A message is a JSON header followed by the
arrays it refers to, each in NumPy's ``.npy`` format read with ``allow_pickle=False``.
What travels (the grading contract, see :mod:`nnkit.course`):

- ``None``, ``bool``, ``int``, ``float``, ``str``; lists, tuples and dicts of these
  (dict keys: any value of this list that is hashable);
- NumPy arrays of numbers, booleans or strings, and NumPy scalars (arrays of any nnkit
  backend travel as NumPy arrays);
- NumPy random ``Generator`` objects, as their bit generator's state;
- nnkit's own objects (layers, ``Sequential``, ``Parameter``, losses, optimisers: any class
  defined in an ``nnkit`` module outside ``nnkit.course``), as a copy of their attributes;
  objects shared inside one message stay shared;
- callables, in one direction only: the trusted side sends a callback number (see
  ``callback`` in :func:`pack`) and the student's side calls back through it.

Anything else raises :class:`PlainDataError`, which names the offending value's type.
"""

from __future__ import annotations

import importlib
import io
import json
import struct
import sys
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["PlainDataError", "pack", "unpack", "MAX_MESSAGE", "read_frame", "write_frame"]

MAX_MESSAGE = 256 << 20        # bytes in one message: a bigger one is refused, not read
_MAX_ARRAYS = 100_000
_KINDS = "biufcU"             # array dtypes that may travel: numbers, booleans, strings
_LENGTH = struct.Struct("<Q")


class PlainDataError(TypeError):
    """A value that cannot cross the sandbox wall, or a message that is not plain data."""


def _is_nnkit_object(value: Any) -> bool:
    module = type(value).__module__ or ""
    return (module == "nnkit" or module.startswith("nnkit.")) and not module.startswith("nnkit.course") \
        and hasattr(value, "__dict__") and not isinstance(value, type)


class _Encoder:
    def __init__(self, callback: Callable[[Callable], int] | None) -> None:
        self.arrays: list[np.ndarray] = []
        self.memo: dict[int, int] = {}
        self.keep: list[Any] = []          # memoised objects stay alive, so their ids stay unique
        self.callback = callback

    def array(self, value: np.ndarray, tag: str) -> dict:
        if value.dtype.kind not in _KINDS:
            raise PlainDataError(f"an array of dtype {value.dtype} cannot be graded: return numbers")
        self.arrays.append(np.asarray(value))
        return {tag: len(self.arrays) - 1}

    def __call__(self, value: Any, depth: int = 0) -> Any:
        if depth > 100:
            raise PlainDataError("a value nested more than 100 levels deep")
        if value is None or isinstance(value, (bool, str)) or type(value) in (int, float):
            return value
        if isinstance(value, np.generic):
            return self.array(np.asarray(value), "$scalar")
        if isinstance(value, np.ndarray):
            return self.array(value, "$array")
        if isinstance(value, (int, float)) and not isinstance(value, np.generic):
            return int(value) if isinstance(value, int) else float(value)
        if isinstance(value, np.random.Generator):
            bits = value.bit_generator
            return {"$generator": [type(bits).__name__, self(bits.state, depth + 1)]}
        if isinstance(value, (list, tuple)):
            items = [self(item, depth + 1) for item in value]
            return items if type(value) is list else {"$tuple": items}
        if isinstance(value, dict):
            return {"$dict": [[self(k, depth + 1), self(v, depth + 1)] for k, v in value.items()],
                    "ordered": isinstance(value, OrderedDict)}
        if _is_nnkit_object(value):
            if id(value) in self.memo:
                return {"$ref": self.memo[id(value)]}
            self.memo[id(value)] = len(self.memo)
            self.keep.append(value)
            cls = type(value)
            return {"$object": [cls.__module__, cls.__qualname__], "id": self.memo[id(value)],
                    "attrs": self(vars(value), depth + 1)}
        from .. import backend
        if backend.is_array(value):
            return self.array(backend.to_numpy(value), "$array")
        if callable(value) and not isinstance(value, type) and self.callback is not None:
            return {"$callback": self.callback(value)}
        raise PlainDataError(f"a {type(value).__module__}.{type(value).__qualname__} cannot cross the "
                             "sandbox: use numbers, arrays, lists, tuples and dicts")


def pack(value: Any, callback: Callable[[Callable], int] | None = None) -> bytes:
    """``value`` as one message (bytes).

    callback: called with each callable found in ``value``; returns the number the other side
    calls back with (only the trusted side passes one).
    """
    encode = _Encoder(callback)
    header = json.dumps(encode(value), separators=(",", ":")).encode()
    out = io.BytesIO()
    out.write(_LENGTH.pack(len(header)))
    out.write(header)
    out.write(_LENGTH.pack(len(encode.arrays)))
    for array in encode.arrays:
        blob = io.BytesIO()
        np.save(blob, array, allow_pickle=False)
        out.write(_LENGTH.pack(blob.tell()))
        out.write(blob.getbuffer())
    return out.getvalue()


def _nnkit_class(where: Any) -> type:
    """The nnkit class named by ``[module, qualname]``, from modules already imported."""
    if not (isinstance(where, list) and len(where) == 2 and all(isinstance(w, str) for w in where)):
        raise PlainDataError("a malformed object")
    module, qualname = where
    if not (module == "nnkit" or module.startswith("nnkit.")) or module.startswith("nnkit.course"):
        raise PlainDataError(f"objects of {module} cannot cross the sandbox")
    try:
        found: Any = sys.modules.get(module) or importlib.import_module(module)
    except ImportError:
        raise PlainDataError(f"no module {module}") from None
    for part in qualname.split("."):
        found = getattr(found, part, None)
    if not isinstance(found, type) or found.__module__ != module:
        raise PlainDataError(f"{module}.{qualname} is not an nnkit class")
    return found


class _Decoder:
    def __init__(self, arrays: list[np.ndarray], call_back: Callable[[int], Callable] | None) -> None:
        self.arrays, self.objects, self.call_back = arrays, {}, call_back

    def __call__(self, tree: Any) -> Any:
        if tree is None or isinstance(tree, (bool, int, float, str)):
            return tree
        if isinstance(tree, list):
            return [self(item) for item in tree]
        if not isinstance(tree, dict) or not tree:
            raise PlainDataError("a malformed message")
        tag = next(iter(tree))
        body = tree[tag]
        if tag in ("$array", "$scalar"):
            array = self.arrays[body] if isinstance(body, int) and 0 <= body < len(self.arrays) else None
            if array is None:
                raise PlainDataError("a malformed array reference")
            return array[()] if tag == "$scalar" else array
        if tag == "$tuple" and isinstance(body, list):
            return tuple(self(item) for item in body)
        if tag == "$dict" and isinstance(body, list):
            out = OrderedDict() if tree.get("ordered") else {}
            for pair in body:
                if not (isinstance(pair, list) and len(pair) == 2):
                    raise PlainDataError("a malformed dict")
                key = self(pair[0])
                try:
                    out[key] = self(pair[1])
                except TypeError as exc:  # an unhashable key
                    raise PlainDataError(f"a dict key that cannot be a key ({exc})") from None
            return out
        if tag == "$generator" and isinstance(body, list) and len(body) == 2:
            kind = getattr(np.random, str(body[0]), None)
            if not (isinstance(kind, type) and issubclass(kind, np.random.BitGenerator)):
                raise PlainDataError(f"no bit generator {body[0]!r}")
            bits = kind()
            try:
                bits.state = self(body[1])
            except (TypeError, ValueError, KeyError) as exc:
                raise PlainDataError(f"a malformed generator state ({exc})") from None
            return np.random.Generator(bits)
        if tag == "$object":
            cls, key = _nnkit_class(body), tree.get("id")
            if not isinstance(key, int) or key in self.objects:
                raise PlainDataError("a malformed object")
            obj = object.__new__(cls)
            self.objects[key] = obj
            attrs = self(tree.get("attrs"))
            if not isinstance(attrs, dict) or not all(isinstance(k, str) for k in attrs):
                raise PlainDataError("a malformed object")
            obj.__dict__.update(attrs)
            return obj
        if tag == "$ref" and body in self.objects:
            return self.objects[body]
        if tag == "$callback" and isinstance(body, int) and self.call_back is not None:
            return self.call_back(body)
        raise PlainDataError(f"a malformed message (tag {tag[:20]!r})")


def unpack(data: bytes, call_back: Callable[[int], Callable] | None = None) -> Any:
    """The value in a message made by :func:`pack`.

    call_back: makes the function that stands for callback number ``n`` (only the student's
    side passes one). Arrays are read without pickle; a malformed message raises
    :class:`PlainDataError`.
    """
    view = memoryview(data)
    try:
        (size,) = _LENGTH.unpack_from(view, 0)
        header = json.loads(bytes(view[8:8 + size]))
        offset = 8 + size
        (count,) = _LENGTH.unpack_from(view, offset)
        offset += 8
        if count > _MAX_ARRAYS:
            raise PlainDataError(f"a message with {count} arrays")
        arrays = []
        for _ in range(count):
            (size,) = _LENGTH.unpack_from(view, offset)
            array = np.load(io.BytesIO(view[offset + 8:offset + 8 + size]), allow_pickle=False)
            if type(array) is not np.ndarray or array.dtype.kind not in _KINDS:
                raise PlainDataError(f"an array of dtype {array.dtype}")
            arrays.append(array)
            offset += 8 + size
    except PlainDataError:
        raise
    except (ValueError, struct.error, RecursionError, EOFError, OSError, UnicodeDecodeError) as exc:
        raise PlainDataError(f"a malformed message ({type(exc).__name__})") from None
    try:
        return _Decoder(arrays, call_back)(header)
    except PlainDataError:
        raise
    except (RecursionError, AttributeError, TypeError, ValueError, KeyError, IndexError) as exc:
        raise PlainDataError(f"a malformed message ({type(exc).__name__})") from None


def write_frame(stream, data: bytes) -> None:
    """Write one message to a binary stream, length first."""
    stream.write(_LENGTH.pack(len(data)))
    stream.write(data)
    stream.flush()


def read_frame(stream, limit: int = MAX_MESSAGE) -> bytes:
    """Read one message written by :func:`write_frame`; EOFError at the end of the stream."""
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError("the other side closed the pipe")
    (size,) = _LENGTH.unpack(head)
    if size > limit:
        raise PlainDataError(f"a message of {size >> 20} MiB (the limit is {limit >> 20} MiB)")
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the other side closed the pipe mid-message")
    return data
