"""The chapter and solution notebooks: stored state, portability, and a run on the strict backend.

The comparison against stored outputs is nbval's job (``--nbval`` in pyproject.toml
collects ``notebooks/`` and ``solutions/``), with NumPy's top SIMD level switched off in
the kernels (see the root ``conftest.py``: exp, log and friends then round differently in
the last bit, as on another student's CPU). Here every notebook runs once more with
``NNKIT_BACKEND=strict`` (``--nbval-lax``: no output comparison), which fails wherever a
chapter converts an nnkit array to NumPy implicitly, as it would fail on a GPU.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))
IDS = [str(p.relative_to(ROOT)) for p in NOTEBOOKS]


def _code_cells(path: pathlib.Path) -> list[dict]:
    cells = json.loads(path.read_text())["cells"]
    return [c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).strip()]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_stored_outputs_are_complete_and_error_free(path):
    cells = _code_cells(path)
    unrun = [i for i, c in enumerate(cells) if c.get("execution_count") is None]
    errors = [i for i, c in enumerate(cells)
              if any(o["output_type"] == "error" for o in c.get("outputs", []))]
    assert not unrun, f"{path.name}: code cells {unrun} have no stored run; execute the notebook in place"
    assert not errors, f"{path.name}: code cells {errors} store an error output"
    counts = [c["execution_count"] for c in cells]
    assert counts == list(range(1, len(cells) + 1)), f"{path.name}: not executed top to bottom in one run"


WITH_CODE = [p for p in NOTEBOOKS if _code_cells(p)]   # the notation appendix is prose only


@pytest.mark.parametrize("path", WITH_CODE, ids=[str(p.relative_to(ROOT)) for p in WITH_CODE])
def test_runs_on_the_strict_backend(path, tmp_path):
    env = dict(os.environ, NNKIT_BACKEND="strict")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-o", "addopts=", "-p", "no:cacheprovider",
         "--nbval-lax", "--nbval-current-env", "--nbval-cell-timeout=600", str(path)],
        cwd=path.parent, env=env, capture_output=True, text=True,
    )
    assert result.returncode == 0, f"{path.name} fails on the strict backend:\n{result.stdout[-6000:]}"


STUDENT_LINE = "no GPU backend, because CuPy is not installed"


def test_stored_outputs_are_compared_with_numpy_simd_off():
    """The kernels nbval starts inherit NPY_DISABLE_CPU_FEATURES from the root conftest.py, so
    the comparison against stored outputs runs on NumPy code that rounds differently from the
    machine that stored them; CI requires it (NNKIT_REQUIRE_SIMD_OFF=1)."""
    switched_off = os.environ.get("NPY_DISABLE_CPU_FEATURES", "")
    if not switched_off:
        native = os.environ.get("NNKIT_SIMD") == "native"
        why = ("NNKIT_SIMD=native asks for the CPU's own SIMD code" if native
               else "NumPy has no SIMD level above its baseline on this CPU")
        if os.environ.get("NNKIT_REQUIRE_SIMD_OFF") == "1":
            pytest.fail(f"NNKIT_REQUIRE_SIMD_OFF=1 but the notebooks are compared as is: {why}")
        pytest.skip(f"not run: {why}")
    code = ("from numpy._core._multiarray_umath import __cpu_features__ as f; "
            "print(' '.join(k for k, on in f.items() if on))")
    enabled = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert not set(switched_off.split()) & set(enabled.split()), f"{switched_off} still on in a kernel"


@pytest.mark.parametrize("path", WITH_CODE, ids=[str(p.relative_to(ROOT)) for p in WITH_CODE])
def test_stored_backend_line_is_what_a_student_sees(path):
    """The setup cell's output is not compared (it names versions), so check its content here."""
    if path.parent.name == "solutions" and not any("setup_notebook(" in "".join(c["source"])
                                                    for c in _code_cells(path)):
        pytest.skip(f"{path.name} does not call nnkit.setup_notebook, so prints no backend line")
    lines = [line for cell in _code_cells(path) for output in cell.get("outputs", [])
             for line in "".join(output.get("text", "")).splitlines() if line.startswith("nnkit is using")]
    assert lines, f"{path.name}: no stored `nnkit is using ...` line; start with nnkit.setup_notebook()"
    assert STUDENT_LINE in lines[0], (
        f"{path.name} was stored in a developer's environment ({lines[0]!r}); store it as a student's "
        "fresh install sees it: python -m nnkit.course store (see its --help)")


def test_backend_line_without_cupy_names_the_install_command():
    code = ("import sys; sys.modules['cupy'] = None\n"  # as if CuPy were not installed
            "import os; os.environ.pop('NNKIT_BACKEND', None)\n"
            "import nnkit; print(nnkit.backend_info())")
    line = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert line.startswith("nnkit is using NumPy") and "on the CPU" in line, line
    assert STUDENT_LINE in line and "pip install -r requirements-gpu.txt" in line, line
