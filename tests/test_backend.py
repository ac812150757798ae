"""The backend switch, host/device conversion, seeding, and the static rules of the package."""

from __future__ import annotations

import ast
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import nnkit
from nnkit import backend

PACKAGE = pathlib.Path(nnkit.__file__).parent


def _sources() -> list[pathlib.Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_unknown_backend_name_is_refused_with_the_choices():
    with pytest.raises(nnkit.BackendError, match=r"Unknown backend 'torch'.*numpy.*strict"):
        nnkit.set_backend("torch")


def test_use_backend_restores_the_previous_backend():
    before = backend.get_backend().name
    with nnkit.use_backend("strict") as active:
        assert active.name == "strict"
        assert backend.get_backend().name == "strict"
    assert backend.get_backend().name == before


def test_explicit_cupy_without_a_usable_gpu_raises_with_cause_and_fix():
    if backend._cupy_problem() is None:
        pytest.skip("a GPU is usable here: the cupy backend works")
    with pytest.raises(nnkit.BackendError) as info:
        nnkit.set_backend("cupy")
    message = str(info.value)
    assert "cannot be used" in message
    assert ("requirements-gpu.txt" in message) or ("GPU" in message) or ("driver" in message)


def test_backend_info_on_a_cpu_machine_names_numpy_and_why_not_cupy():
    if backend._cupy_problem() is None:
        pytest.skip("a GPU is usable here")
    with nnkit.use_backend("auto"):
        info = nnkit.backend_info()
    assert info.startswith("nnkit is using NumPy")
    assert "CuPy" in info and "because" in info
    assert "\n" not in info


def test_environment_variable_selects_the_backend():
    code = "import nnkit; print(nnkit.get_backend().name)"
    env = dict(os.environ, NNKIT_BACKEND="strict")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "strict"


def test_asarray_and_to_numpy_round_trip(backend_name):
    host = np.arange(6.0).reshape(2, 3)
    a = nnkit.asarray(host)
    assert backend.dtype_name(a.dtype) == "float64"
    np.testing.assert_array_equal(nnkit.to_numpy(a), host)
    labels = nnkit.asarray([0, 2, 1])
    assert backend.dtype_name(labels.dtype) == "int64"
    assert backend.dtype_name(nnkit.asarray(host, dtype="float32").dtype) == "float32"


def test_strict_refuses_implicit_conversion_like_cupy():
    with nnkit.use_backend("strict"):
        a = nnkit.asarray([1.0, 2.0])
        with pytest.raises((RuntimeError, TypeError, ValueError)):
            np.asarray(a)
        with pytest.raises((RuntimeError, TypeError, ValueError)):
            _ = a + np.ones(2)  # mixing with a host array, refused as CuPy refuses it
        np.testing.assert_array_equal(nnkit.to_numpy(a), [1.0, 2.0])


def test_mixing_libraries_names_both_and_the_fix():
    with nnkit.use_backend("strict"):
        a = nnkit.asarray([1.0])
    with pytest.raises(nnkit.BackendError, match="nnkit.asarray"):
        backend.namespace(a, np.ones(1))


def test_seed_gives_the_same_numbers_on_every_backend():
    draws = {}
    for name in ("numpy", "strict"):
        with nnkit.use_backend(name):
            nnkit.seed(42)
            draws[name] = nnkit.to_numpy(backend.randn(3, 4))
    np.testing.assert_array_equal(draws["numpy"], draws["strict"])


def test_default_dtype_switch_is_scoped():
    with nnkit.use_dtype("float32"):
        assert backend.dtype_name(nnkit.asarray([1.0]).dtype) == "float32"
    assert backend.dtype_name(nnkit.asarray([1.0]).dtype) == "float64"
    with pytest.raises(ValueError, match="float64"):
        nnkit.set_default_dtype("float16")


# The grader's plain-data wire format is NumPy's .npy on the host by definition (nnkit.course.plain),
# so the modules that speak it use NumPy directly; nothing in them computes on a backend's arrays.
HOST_ONLY = {"backend.py", "course/plain.py", "course/referee.py", "course/student.py"}


def test_only_the_backend_module_imports_numpy_or_cupy():
    offenders = []
    for path in _sources():
        if str(path.relative_to(PACKAGE)) in HOST_ONLY:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(PACKAGE)}: import {n}" for n in names
                          if n.split(".")[0] in ("numpy", "cupy", "cupyx")]
    assert not offenders, "only nnkit/backend.py may import numpy/cupy:\n" + "\n".join(offenders)


def _namespace_calls() -> dict[str, list[str]]:
    """Every ``xp.<name>`` the package uses, with where it is used."""
    used: dict[str, list[str]] = {}
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "xp":
                used.setdefault(node.attr, []).append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    return used


def test_the_static_scan_finds_namespace_calls():
    assert {"exp", "zeros"} <= set(_namespace_calls()), "the scan found no xp.<name> uses: is it broken?"


def test_every_namespace_function_the_library_calls_exists_in_cupy():
    try:
        import array_api_compat.cupy as cupy_namespace
    except ImportError:
        if os.environ.get("NNKIT_REQUIRE_CUPY_IMPORT"):
            raise
        pytest.skip("CuPy is not installed (CI installs it for this check: pip install cupy-cuda12x)")
    missing = {name: where for name, where in _namespace_calls().items() if not hasattr(cupy_namespace, name)}
    assert not missing, f"CuPy's array-API namespace lacks: {missing}"


def test_every_namespace_function_the_library_calls_is_in_the_array_api():
    import array_api_strict

    used = _namespace_calls()
    missing = {name: where for name, where in used.items() if not hasattr(array_api_strict, name)}
    assert not missing, f"not in the array API standard (array-api-strict lacks them): {missing}"


# ----------------------------------------------------------------------------- device work

def _splitmix64(key: int, n: int) -> list[float]:
    """The first n outputs of SplitMix64 seeded with key, in plain Python ints, as [0, 1) floats."""
    out, mask = [], 2**64 - 1
    for i in range(1, n + 1):
        z = (key + i * 0x9E3779B97F4A7C15) & mask
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        out.append(((z ^ (z >> 31)) >> 11) / 2**53)
    return out


def test_device_uniform_is_splitmix64_of_a_key_from_the_host_generator(backend_name):
    like = nnkit.asarray(np.zeros(3))
    u = backend.device_uniform((4, 5), like, np.random.default_rng(3))
    key = int(np.random.default_rng(3).integers(0, 2**63))
    assert u.shape == (4, 5) and backend.dtype_name(u.dtype) == "float64"
    assert backend.to_numpy(u).ravel().tolist() == _splitmix64(key, 20)


def test_device_uniform_looks_uniform_and_follows_nnkit_seed(backend_name):
    like = nnkit.asarray(np.zeros(1))
    nnkit.seed(1)
    u = backend.to_numpy(backend.device_uniform((100_000,), like))
    nnkit.seed(1)
    assert np.array_equal(u, backend.to_numpy(backend.device_uniform((100_000,), like)))
    assert 0 <= u.min() and u.max() < 1
    counts = np.histogram(u, bins=10, range=(0, 1))[0]
    assert np.all(np.abs(counts - 10_000) < 5 * 100)                  # 5 standard deviations
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.02              # neighbours are unrelated


def test_synchronize_is_a_no_op_on_cpu_backends(backend_name):
    assert nnkit.synchronize() is None
