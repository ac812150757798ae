"""Self-checks a student can read: compare an answer with the expected one and say what is wrong.

Every helper raises ``AssertionError`` with a message written for the student (shape
mismatch, values off by how much and where, NaN, wrong dtype, a forgotten ``return``) and
prints ``✓ <name> passed`` when the answer is right. Answers may be NumPy arrays, arrays of
any nnkit backend (moved to the host with :func:`nnkit.backend.to_numpy`), Python numbers
or nested lists.
"""

from __future__ import annotations

from typing import Any

from .. import backend

__all__ = ["check_close", "check_dtype", "check_equal", "check_scalar", "check_shape"]


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
