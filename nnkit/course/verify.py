"""Check a chapter's checks: they pass on the solution, fail on the blank, and catch every wrong answer.

Each variant of the notebook (the solution; the exercise as handed out; the blank with the
hidden tests kept, as the grader runs it; the solution with one wrong answer in place, checked
by the visible checks alone, since a mistake only the grader catches is one the student's
self-check let through) runs exactly as the grader runs a submission: the instructor's
cells in the referee, the solution cells in a student process, every call across through
plain data (:mod:`nnkit.course.referee`). So a check that breaks the grading contract (an argument that
is not plain data, a result that does not come back) shows up here. All variants share one
referee and one student process (its namespace reset between variants), unsandboxed: every
variant is the author's own code.
Chapter authors run it with ``python -m nnkit.course verify``; the test suite runs it on
every ``solutions/*.ipynb``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from .build import make_exercise, read, tagged_cells, wrong_answers
from .grade import grading_cells, run_referee
from .sandbox import Limits

__all__ = ["variants", "run_variants", "problems", "verify"]

_BLANKS = {"exercise": "the exercise as handed out", "blank": "the blank exercise with its hidden tests"}


def _cells(nb: dict) -> list[dict]:
    return grading_cells(nb, {name: cell.source for name, cell in tagged_cells(nb, "solution").items()})[0]


def variants(solution: dict) -> Iterator[tuple[str, list[dict]]]:
    """("solution", cells), ("exercise", …), ("blank", …), then ("<exercise>/<wrong answer>", …) for each.

    Wrong answers run against the visible checks only (hidden tests removed, as in the exercise).
    """
    yield "solution", _cells(solution)
    yield "exercise", _cells(make_exercise(solution))
    yield "blank", grading_cells(solution, {})[0]
    visible = {name: cell.source for name, cell in tagged_cells(make_exercise(solution), "check").items()}
    for label, nb in wrong_answers(solution):
        for name, cell in tagged_cells(nb, "check").items():
            cell.source = visible[name]  # as the student sees it: a mistake only the grader sees is a defect
        yield label, _cells(nb)


def run_variants(solution_path: Path, timeout: float = 60) -> dict[str, dict[str, str | None] | str]:
    """Each variant's check outcomes ({check name: None if it passed, else why not}), or why it could not run.

    A wrong answer's variant stops at the first check that catches it, so its outcomes end there.

    timeout: seconds per cell.
    """
    jobs = [{"label": label, "cells": cells, "until_caught": label not in ("solution", *_BLANKS)}
            for label, cells in variants(read(solution_path))]
    limits = Limits(cell_timeout=timeout, wall_timeout=3600, memory_mb=8192, cpu_seconds=3600)
    results, log = run_referee(jobs, limits, sandboxed=False, timeout=limits.wall_timeout)
    stopped = f"not run (the referee stopped: {log[-500:]})"
    found: dict[str, dict[str, str | None] | str] = {job["label"]: stopped for job in jobs}
    for result in results:
        if not result["done"]:
            continue
        outcomes = {}
        for record in result["cells"]:
            if record["timed_out"]:
                found[result["label"]] = f"a cell ran longer than {timeout:g} s"
                break
            if record["kind"] == "check":
                error = record["error"] or ["", record["died"] or "not run"]
                passed = record["outcome"] == "passed"
                outcomes[record["name"]] = None if passed else f"{error[0]}: {error[1]}"
        else:
            found[result["label"]] = outcomes
    return found


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
            found.append(f"wrong answer {label} passes every visible check (a student would see only ✓)")
    return found


def verify(solution_path: Path, timeout: float = 60) -> list[str]:
    """Every way the checks of ``solution_path`` misbehave, as sentences (an empty list: all is well)."""
    return problems(run_variants(solution_path, timeout))
