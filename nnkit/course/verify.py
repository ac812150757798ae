"""Check a chapter's checks: they pass on the solution, fail on the blank, and catch every wrong answer.

Each variant of the notebook (the solution; the exercise as handed out; the blank with the
hidden tests kept, as the grader runs it; the solution with one wrong answer in place) runs
top to bottom in one kernel, its namespace reset between variants. That is about ten times
faster than a sandboxed grading run per variant, and safe because every variant is the
author's own code.
Chapter authors run it with ``python -m nnkit.course verify``; the test suite runs it on
every ``solutions/*.ipynb``.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from queue import Empty

from jupyter_client.manager import KernelManager, start_new_kernel

from .build import make_exercise, read, tag_name, wrong_answers
from .grade import grading_notebook

__all__ = ["variants", "check_outcomes", "run_variants", "problems", "verify"]

_BLANKS = {"exercise": "the exercise as handed out", "blank": "the blank exercise with its hidden tests"}

# Forget the previous variant's names; quicker than %reset, which also collects garbage.
_RESET = """
for _name in [n for n in get_ipython().user_ns if n not in get_ipython().user_ns_hidden and n[0] != "_"]:
    del get_ipython().user_ns[_name]
"""


def variants(solution: dict) -> Iterator[tuple[str, dict]]:
    """("solution", …), ("exercise", …), ("blank", …), then ("<exercise>/<wrong answer>", …) for each."""
    yield "solution", solution
    yield "exercise", make_exercise(solution)
    yield "blank", grading_notebook(solution, make_exercise(solution))[0]
    yield from wrong_answers(solution)


def _ignore(message: dict) -> None:
    """Output hook that drops a cell's output (only each cell's status matters here)."""


@contextmanager
def _kernel() -> Iterator[tuple[KernelManager, object]]:
    with tempfile.TemporaryDirectory(prefix="nnkit-verify-") as folder:
        manager, client = start_new_kernel(kernel_name="python3", cwd=folder, stderr=subprocess.DEVNULL)
        client.execute_interactive("%xmode Minimal", store_history=False, output_hook=_ignore)
        try:
            yield manager, client
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)


def check_outcomes(client, nb: dict, timeout: float) -> dict[str, str | None]:
    """Run ``nb`` in a fresh namespace of ``client``'s kernel: {check name: None if it passed, else why not}.

    Raises TimeoutError when a cell runs longer than ``timeout`` seconds.
    """
    client.execute_interactive(_RESET, store_history=False, timeout=timeout, output_hook=_ignore)
    outcomes = {}
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        reply = client.execute_interactive(cell["source"], store_history=False, timeout=timeout,
                                           output_hook=_ignore)["content"]
        name = tag_name(cell, "check")
        if name is not None:
            outcomes[name] = None if reply["status"] == "ok" else f"{reply['ename']}: {reply['evalue']}"
    return outcomes


def run_variants(solution_path: Path, timeout: float = 60) -> dict[str, dict[str, str | None] | str]:
    """Each variant's check outcomes (see :func:`check_outcomes`), or why the variant could not run."""
    results: dict[str, dict[str, str | None] | str] = {}
    with _kernel() as (manager, client):
        for label, nb in variants(read(solution_path)):
            try:
                results[label] = check_outcomes(client, nb, timeout)
            except (TimeoutError, Empty):
                results[label] = f"a cell ran longer than {timeout:g} s"
                manager.restart_kernel(now=True)
                client.wait_for_ready(timeout=60)
    return results


def problems(results: dict[str, dict[str, str | None] | str]) -> list[str]:
    """Every way the checks misbehave in ``results`` of :func:`run_variants`, as sentences."""
    found = []
    for label, outcomes in results.items():
        if isinstance(outcomes, str):
            found.append(f"{label}: {outcomes}")
        elif label == "solution":
            found += [f"check:{name} fails on the solution: {why}" for name, why in outcomes.items() if why]
        elif label in _BLANKS:
            found += [f"check:{name} passes on {_BLANKS[label]}"
                      for name, why in outcomes.items() if why is None]
        elif all(why is None for why in outcomes.values()):
            found.append(f"wrong answer {label} passes every check")
    return found


def verify(solution_path: Path, timeout: float = 60) -> list[str]:
    """Every way the checks of ``solution_path`` misbehave, as sentences (an empty list: all is well)."""
    return problems(run_variants(solution_path, timeout))
