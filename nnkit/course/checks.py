"""Self-checks a student can read: compare an answer with the expected one and say what is wrong.

Every helper raises ``AssertionError`` with a message written for the student (shape
mismatch, values off by how much and where, NaN, wrong dtype, a forgotten ``return``) and
prints ``✓ <name> passed`` when the answer is right. Answers may be NumPy arrays, arrays of
any nnkit backend (moved to the host with :func:`nnkit.backend.to_numpy`), Python numbers
or nested lists.
"""

from __future__ import annotations

import inspect
from typing import Any

from .. import backend

__all__ = ["call", "check_close", "check_dtype", "check_equal", "check_scalar", "check_shape", "check_true",
           "check_type"]


def _passed(name: str) -> None:
    print(f"✓ {name} passed")


def _fail(name: str, problem: str) -> None:
    raise AssertionError(f"{name}: {problem}")


def _host(value: Any, name: str) -> Any:
    """``value`` as a host (NumPy) array of numbers, or a failure that says why it is not one."""
    if value is None:
        _fail(name, "got None. Did you forget to `return` the result?")
    try:
        array = backend.to_numpy(value)
    except Exception as exc:  # ragged lists, exotic objects: say what came back
        _fail(name, f"expected numbers, got a {type(value).__name__} that is not an array ({exc}).")
    if array.dtype.kind not in "biuf":
        _fail(name, f"expected numbers, got an array of dtype {array.dtype} "
                    f"(from a {type(value).__name__}). Return a NumPy array of numbers.")
    return array


def _index(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The multi-index of position ``flat`` in a C-ordered array of ``shape``."""
    index = []
    for size in reversed(shape):
        flat, rest = divmod(flat, size)
        index.append(rest)
    return tuple(reversed(index))


def _where(flat: int, shape: tuple[int, ...]) -> str:
    return f" at index {_index(flat, shape)}" if shape else ""


def _shape_hint(actual: tuple[int, ...], expected: tuple[int, ...]) -> str:
    if actual == tuple(reversed(expected)):
        return " It looks transposed: check the order of a matrix product (x @ w, batch first)."
    if tuple(s for s in actual if s != 1) == tuple(s for s in expected if s != 1):
        return " An axis of size 1 is extra or missing: check reshape, keepdims or the axis you reduce over."
    if not actual:
        return " You returned a single number: keep one value per example."
    if not expected:
        return " Reduce to a single number (e.g. the mean over the examples)."
    return ""


def _compare_shapes(actual: Any, expected: Any, name: str) -> None:
    if actual.shape != expected.shape:
        _fail(name, f"shape {expected.shape} expected, got {actual.shape}."
                    + _shape_hint(actual.shape, expected.shape))


def _non_finite(actual: Any, expected: Any, name: str) -> None:
    xp = backend.namespace(actual)
    bad = ~xp.isfinite(actual) & xp.isfinite(expected)
    if xp.any(bad):
        flat = int(xp.argmax(xp.reshape(bad, (-1,))))
        value = actual.reshape(-1)[flat]
        kind = "NaN" if value != value else "infinity"
        count = int(xp.sum(bad))
        _fail(name, f"contains {kind}{_where(flat, actual.shape)} ({count} non-finite value"
                    f"{'s' if count > 1 else ''} in all). Look for log(0), 0/0 or an exp that overflows.")


def check_close(actual: Any, expected: Any, name: str = "result", rtol: float = 1e-6,
                atol: float = 1e-8) -> None:
    """Check that ``actual`` has the shape of ``expected`` and values within ``atol + rtol·|expected|``.

    actual:   the student's answer, any shape (array, number or nested list).
    expected: the reference, same shape.
    name:     what is checked, as the student should read it, e.g. ``"sigmoid([-1, 0, 2])"``.
    """
    actual = _host(actual, name)
    expected = _host(expected, f"{name} (reference)").astype("float64")
    _compare_shapes(actual, expected, name)
    actual = actual.astype("float64")
    _non_finite(actual, expected, name)
    xp = backend.namespace(actual)
    error = xp.abs(actual - expected)
    off = error > atol + rtol * xp.abs(expected)
    if xp.any(off):
        flat = int(xp.argmax(xp.reshape(error, (-1,))))
        count, size = int(xp.sum(off)), expected.size
        where = _where(flat, expected.shape)
        want, got = float(expected.reshape(-1)[flat]), float(actual.reshape(-1)[flat])
        _fail(name, f"values off: largest error {float(error.reshape(-1)[flat]):.4g}{where}: "
                    f"expected {want:.6g}, got {got:.6g}"
                    + (f" ({count} of {size} values off)." if size > 1 else "."))
    _passed(name)


def check_equal(actual: Any, expected: Any, name: str = "result") -> None:
    """Check that ``actual`` equals ``expected`` exactly (labels, predictions, counts).

    actual:   the student's answer, any shape.
    expected: the reference, same shape.
    """
    actual = _host(actual, name)
    expected = _host(expected, f"{name} (reference)")
    _compare_shapes(actual, expected, name)
    xp = backend.namespace(actual)
    differ = actual != expected
    if xp.any(differ):
        flat = int(xp.argmax(xp.reshape(differ, (-1,))))
        count = int(xp.sum(differ))
        _fail(name, f"{count} of {expected.size} values differ; the first{_where(flat, expected.shape)}: "
                    f"expected {expected.reshape(-1)[flat].item()}, got {actual.reshape(-1)[flat].item()}.")
    _passed(name)


def check_scalar(actual: Any, expected: float, name: str = "result", rtol: float = 1e-6,
                 atol: float = 1e-8) -> None:
    """Check that ``actual`` is one number (a float or a 0-d array) close to ``expected``."""
    array = _host(actual, name)
    if array.ndim:
        _fail(name, f"expected a single number, got an array of shape {array.shape}."
                    + _shape_hint(array.shape, ()))
    check_close(array, expected, name=name, rtol=rtol, atol=atol)


def check_shape(actual: Any, shape: tuple[int, ...], name: str = "result") -> None:
    """Check that ``actual`` is an array of ``shape``."""
    array = _host(actual, name)
    shape = tuple(shape)
    if array.shape != shape:
        _fail(name, f"shape {shape} expected, got {array.shape}." + _shape_hint(array.shape, shape))
    _passed(name)


def check_dtype(actual: Any, dtype: str, name: str = "result") -> None:
    """Check that ``actual`` has the dtype called ``dtype`` (e.g. ``"float64"``, ``"int64"``)."""
    array = _host(actual, name)
    if not backend.is_array(actual):
        _fail(name, f"an array of dtype {dtype} expected, got a {type(actual).__name__}.")
    got = backend.dtype_name(array.dtype)
    if got != dtype:
        hint = " Integer division (//) or integer inputs give integers." if "int" in got else ""
        _fail(name, f"dtype {dtype} expected, got {got}.{hint}")
    _passed(name)


def _copy(value: Any) -> Any:
    """A pristine copy of an argument: arrays and containers of them; anything else as it is."""
    if backend.is_array(value) or hasattr(value, "__array_interface__"):
        return backend.namespace(value).asarray(value, copy=True)
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_copy(item) for item in value)
    return value


def _same(before: Any, after: Any) -> bool:
    """Whether an argument still holds what it held before the call (NaNs equal to NaNs)."""
    if backend.is_array(before) or hasattr(before, "__array_interface__"):
        old, new = backend.to_numpy(before), backend.to_numpy(after)
        if old.shape != new.shape or old.dtype != new.dtype:
            return False
        both_nan = (old != old) & (new != new)
        return bool(((old == new) | both_nan).all())
    if isinstance(before, dict):
        return isinstance(after, dict) and before.keys() == after.keys() and all(
            _same(before[key], after[key]) for key in before)
    if isinstance(before, list | tuple):
        return type(after) is type(before) and len(after) == len(before) and all(map(_same, before, after))
    return True


def _describe(arguments: dict[str, Any]) -> str:
    shapes = [f"{name} {tuple(value.shape)}" for name, value in arguments.items() if hasattr(value, "shape")]
    return ", ".join(shapes)


def _likely_cause(exc: Exception, arguments: dict[str, Any]) -> str:
    message = str(exc)
    shapes = _describe(arguments)
    if isinstance(exc, ValueError) and any(word in message for word in ("matmul", "shapes", "broadcast")):
        return (f"the shapes do not line up (your inputs: {shapes}). Write down each array's shape and "
                "check the order of every matrix product (x @ W, batch first) and any transpose.")
    if isinstance(exc, ValueError) and "truth value of an array" in message:
        return (f"an `if`, `and`, `or` or `max(...)` met a whole array (your inputs: {shapes}); work on "
                "every element at once with np.where(condition, a, b), np.maximum or a boolean mask.")
    if isinstance(exc, IndexError):
        return f"an index is out of range for its axis (your inputs: {shapes}): check loop bounds and axes."
    if isinstance(exc, TypeError) and "NoneType" in message:
        return "something is None: did a helper you wrote forget to `return` its result?"
    return "read the traceback above for the line in your code where it happened."


class ChangedInPlace(Exception):
    """Raised by the grader's proxy when the student's function changed an argument in place into
    something that cannot be copied back (a new shape or type); ``argument``: its position or keyword."""

    def __init__(self, argument: int | str, detail: str) -> None:
        super().__init__(detail)
        self.argument = argument


def _modified(label: str, name: str, value: Any) -> None:
    """Fail: the student's function changed argument ``name`` (which held ``value``) in place."""
    if isinstance(value, list | dict):
        fix = (f"work on a copy instead (e.g. `{name} = {type(value).__name__}({name})` first, or build a "
               "new one)")
    else:
        fix = (f"return a new array instead (e.g. `{name} = {name} - ...`, not `{name} -= ...`; "
               f"`{name}.reshape(...)`, not `{name}.shape = ...`)")
    _fail(label, f"your function modified its input `{name}` in place; leave the inputs unchanged and {fix}.")


def call(function: Any, *args: Any, may_change: tuple[str, ...] = (), **kwargs: Any) -> Any:
    """Call a student's ``function`` the way every check should, and return what it returns.

    The function gets copies of the arguments, so the caller's arrays stay as they were for
    references and later checks. An argument the function changed in place fails the check
    with its name ("your function modified its input `w` in place; ..."), unless it is named
    in ``may_change`` (state an exercise asks to update in place). An exception inside the
    student's code fails the check with the call, the exception and its likely cause.
    """
    names = [f"argument {i + 1}" for i in range(len(args))] + list(kwargs)
    try:  # the parameters' own names where the signature says them (a proxy may take *args)
        positional = [p.name for p in inspect.signature(function).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        names[:min(len(args), len(positional))] = positional[:len(args)]
    except (TypeError, ValueError):  # no signature to read
        pass
    pristine = dict(zip(names, map(_copy, list(args) + list(kwargs.values())), strict=True))
    given = {name: value if name in may_change else _copy(value)
             for name, value in zip(names, list(args) + list(kwargs.values()), strict=True)}
    values = list(given.values())
    label = getattr(function, "__name__", "your function")
    try:
        result = function(*values[:len(args)], **dict(zip(kwargs, values[len(args):], strict=True)))
    except NotImplementedError:
        raise
    except ChangedInPlace as exc:
        name = names[exc.argument] if isinstance(exc.argument, int) else exc.argument
        _modified(label, name, pristine[name])
    except Exception as exc:
        shown = _describe(pristine)
        raise AssertionError(f"{label}({shown}) raised {type(exc).__name__}: {exc}. Likely cause: "
                             + _likely_cause(exc, pristine)) from exc
    for name, value in zip(names, values, strict=True):
        if name not in may_change and not _same(pristine[name], value):
            _modified(label, name, pristine[name])
    return result


def check_type(actual: Any, kind: type | tuple[type, ...], name: str = "result") -> None:
    """Check that ``actual`` is an instance of ``kind`` (e.g. ``int``; ``(list, tuple)``).

    An array where a number is expected, a float where an int is, a list where an array is:
    each gets a sentence that names both types.
    """
    kinds = kind if isinstance(kind, tuple) else (kind,)
    wanted = " or ".join(k.__name__ for k in kinds)
    if actual is None:
        _fail(name, f"got None; {wanted} expected. Did you forget to `return` the result?")
    if isinstance(actual, bool) and bool not in kinds:
        _fail(name, f"{wanted} expected, got the bool {actual}.")
    numpy_integer = hasattr(actual, "dtype") and getattr(actual, "ndim", 1) == 0 and actual.dtype.kind in "iu"
    if int in kinds and numpy_integer:
        _passed(name)  # a NumPy integer (e.g. from // on NumPy numbers) is an int
        return
    if not isinstance(actual, kinds):
        got = type(actual).__name__
        hint = ""
        if int in kinds and isinstance(actual, float):
            hint = " Use // for integer division, or int(...) where the result must be whole."
        elif hasattr(actual, "shape") and (int in kinds or float in kinds):
            hint = f" You returned an array of shape {tuple(actual.shape)}; return one number (float(...))."
        elif isinstance(actual, list):
            hint = " Convert it with np.asarray(...)."
        _fail(name, f"{wanted} expected, got {got}.{hint}")
    _passed(name)


def check_true(condition: Any, name: str, hint: str) -> None:
    """Pass when ``condition`` holds; else fail with ``hint``, a sentence that says what to fix.

    For properties no comparison expresses: "the order is shuffled", "the counts are integers".
    """
    if not condition:
        _fail(name, hint)
    _passed(name)
