"""The chapter and solution notebooks: stored state, and a run on the strict backend.

The comparison against stored outputs is nbval's job (``--nbval`` in pyproject.toml
collects ``notebooks/`` and ``solutions/``). Here every notebook runs once more with
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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_runs_on_the_strict_backend(path, tmp_path):
    env = dict(os.environ, NNKIT_BACKEND="strict")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-o", "addopts=", "-p", "no:cacheprovider",
         "--nbval-lax", "--nbval-current-env", "--nbval-cell-timeout=120", str(path)],
        cwd=path.parent, env=env, capture_output=True, text=True,
    )
    assert result.returncode == 0, f"{path.name} fails on the strict backend:\n{result.stdout[-6000:]}"
