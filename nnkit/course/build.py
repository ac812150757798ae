"""Build the students' exercise notebooks from the instructor's solution notebooks.

``solutions/NN_name.ipynb`` is the one source (its format is described in
:mod:`nnkit.course`). :func:`make_exercise` turns it into ``exercises/NN_name.ipynb``:
solution regions become ``raise NotImplementedError(...)`` stubs, hidden tests, wrong
answers and outputs are removed, everything else is kept. :func:`build` does that for
every chapter, or with ``check=True`` only reports the exercise files that are stale.
"""

from __future__ import annotations

import copy
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

import nbformat

SOLUTION = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_TESTS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
META = "course"
_NAME = re.compile(r"[A-Za-z0-9_.-]+")

__all__ = ["FormatError", "SOLUTION", "HIDDEN_TESTS", "tag_name", "tagged_cells", "points", "stub",
           "with_answer", "make_exercise", "wrong_answers", "read", "dumps", "build"]


class FormatError(ValueError):
    """A solution notebook breaks the format of :mod:`nnkit.course` (the message says where)."""


def tag_name(cell: dict, kind: str) -> str | None:
    """The ``<name>`` of a ``kind:<name>`` tag on a code cell, or None."""
    if cell.get("cell_type") != "code":
        return None
    tags = cell.get("metadata", {}).get("tags", [])
    names = [t.split(":", 1)[1] for t in tags if isinstance(t, str) and t.startswith(kind + ":")]
    return names[0] if names else None


def tagged_cells(nb: dict, kind: str) -> dict[str, dict]:
    """The code cells tagged ``kind:<name>`` ("solution" or "check"), by name, in notebook order.

    A name tagged twice keeps its first cell (students' notebooks are read with this too; the
    solution notebooks are validated to have unique names).
    """
    found: dict[str, dict] = {}
    for cell in nb.get("cells", []):
        name = tag_name(cell, kind)
        if name is not None and name not in found:
            found[name] = cell
    return found


def points(cell: dict) -> int:
    """How many points a check cell is worth (``metadata.course.points``, default 1)."""
    return cell.get("metadata", {}).get(META, {}).get("points", 1)


def _regions(source: str, markers: tuple[str, str], where: str) -> list[tuple[int, int]]:
    """(begin, end) line numbers of each marker pair in ``source``; FormatError when unbalanced."""
    begin, end = markers
    regions, start = [], None
    for number, line in enumerate(source.splitlines()):
        text = line.strip()
        if text == begin:
            if start is not None:
                raise FormatError(f"{where}: a second `{begin}` before `{end}` (line {number + 1}).")
            start = number
        elif text == end:
            if start is None:
                raise FormatError(f"{where}: `{end}` without `{begin}` (line {number + 1}).")
            regions.append((start, number))
            start = None
    if start is not None:
        raise FormatError(f"{where}: `{begin}` (line {start + 1}) without `{end}`.")
    return regions


def _replace_regions(source: str, markers: tuple[str, str], bodies: list[str] | None) -> str:
    """``source`` with each marked region (markers included) replaced by the matching body.

    bodies: one block of code per region, written unindented (it takes the begin marker's
    indentation); None drops the regions.
    """
    lines = source.splitlines()
    out, previous = [], 0
    for i, (begin, end) in enumerate(_regions(source, markers, "cell")):
        out.extend(lines[previous:begin])
        if bodies is not None:
            indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
            out.extend(textwrap.indent(textwrap.dedent(bodies[i]).strip("\n"), indent).splitlines())
        previous = end + 1
    out.extend(lines[previous:])
    return "\n".join(out).rstrip("\n")


def stub(source: str, name: str) -> str:
    """A solution cell's source with every solution region turned into a NotImplementedError stub."""
    body = ("# YOUR CODE HERE\n"
            f"raise NotImplementedError(\"exercise '{name}' is not implemented yet: replace this line "
            "with your code, then run this cell again\")")
    count = len(_regions(source, SOLUTION, f"solution:{name}"))
    return _replace_regions(source, SOLUTION, [body] * count)


def with_answer(source: str, answer: str | list[str]) -> str:
    """A solution cell's source with its solution region(s) replaced by ``answer``.

    answer: the code for the single region, or a list with the code for each region.
    """
    return _replace_regions(source, SOLUTION, [answer] if isinstance(answer, str) else list(answer))


def _without_hidden_tests(source: str) -> str:
    return _replace_regions(source, HIDDEN_TESTS, None)


def _validate(nb: dict, where: str) -> None:
    """Raise FormatError naming the cell when ``nb`` breaks the solution-notebook format."""
    seen: set[str] = set()
    checks = 0
    for number, cell in enumerate(nb.cells):
        solution, check = tag_name(cell, "solution"), tag_name(cell, "check")
        label = f"{where}, cell {number} ({cell.cell_type})"
        for kind, name in (("solution", solution), ("check", check)):
            if name is None:
                continue
            if not _NAME.fullmatch(name) or f"{kind}:{name}" in seen:
                raise FormatError(f"{label}: tag `{kind}:{name}` is not a unique name of letters, "
                                  "digits, _ . -")
            seen.add(f"{kind}:{name}")
        if solution and check:
            raise FormatError(f"{label}: a cell is either a solution or a check, not both.")
        has_solution = bool(_regions(cell.source, SOLUTION, label))
        has_hidden = bool(_regions(cell.source, HIDDEN_TESTS, label))
        if has_solution != bool(solution):
            raise FormatError(f"{label}: a `solution:<name>` tag and `{SOLUTION[0]}` markers go together.")
        if has_hidden and not check:
            raise FormatError(f"{label}: hidden tests belong in a cell tagged `check:<name>`.")
        if check:
            checks += 1
            value = points(cell)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise FormatError(f"{label}: metadata.{META}.points must be a whole number ≥ 0, "
                                  f"not {value!r}.")
        if solution:
            answers = cell.metadata.get(META, {}).get("wrong_answers", {})
            regions = len(_regions(cell.source, SOLUTION, label))
            for key, answer in answers.items():
                count = 1 if isinstance(answer, str) else len(answer)
                if count != regions:
                    raise FormatError(f"{label}: wrong answer {key!r} gives {count} block(s) of code "
                                      f"for {regions} solution region(s).")
    if not checks:
        raise FormatError(f"{where}: no cell is tagged `check:<name>`.")


def read(path: Path) -> nbformat.NotebookNode:
    """Read and validate a solution notebook."""
    nb = nbformat.read(path, as_version=4)
    _validate(nb, str(path))
    return nb


def dumps(nb: dict) -> str:
    """A notebook as JSON text, the way Jupyter saves it (so rebuilding is byte-for-byte stable)."""
    return nbformat.writes(nb) + "\n"


def make_exercise(solution: dict) -> nbformat.NotebookNode:
    """The student's notebook: stubs for solutions, no hidden tests, no wrong answers, no outputs."""
    nb = copy.deepcopy(solution)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
        cell.metadata.get(META, {}).pop("wrong_answers", None)
        if cell.metadata.get(META) == {}:
            del cell.metadata[META]
        name = tag_name(cell, "solution")
        if name is not None:
            cell.source = stub(cell.source, name)
        elif tag_name(cell, "check") is not None:
            cell.source = _without_hidden_tests(cell.source)
    return nb


def wrong_answers(solution: dict) -> Iterator[tuple[str, nbformat.NotebookNode]]:
    """Each wrong answer in ``solution`` as (``"<exercise>/<label>"``, the notebook with it in place)."""
    for name, cell in tagged_cells(solution, "solution").items():
        for label, answer in cell.metadata.get(META, {}).get("wrong_answers", {}).items():
            nb = copy.deepcopy(solution)
            tagged_cells(nb, "solution")[name].source = with_answer(cell.source, answer)
            yield f"{name}/{label}", nb


def build(solutions: Path, exercises: Path, check: bool = False) -> list[str]:
    """Make ``exercises/`` match ``solutions/``; returns a line for each file that was (or is) stale.

    Writes ``exercises/X.ipynb`` for every ``solutions/X.ipynb`` whose exercise is missing or
    out of date, and deletes exercise notebooks that have no solution notebook.
    check: change nothing, only report.
    """
    sources = sorted(solutions.glob("*.ipynb"))
    if not sources:
        raise FormatError(f"No solution notebooks in {solutions}/ (run from the course's root folder).")
    stale = []
    for source in sources:
        target = exercises / source.name
        text = dumps(make_exercise(read(source)))
        if target.exists() and target.read_text(encoding="utf-8") == text:
            continue
        stale.append(f"{target}: {'out of date' if target.exists() else 'missing'}")
        if not check:
            exercises.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    names = {source.name for source in sources}
    for orphan in sorted(exercises.glob("*.ipynb")):
        if orphan.name not in names:
            stale.append(f"{orphan}: has no solution notebook")
            if not check:
                orphan.unlink()
    return stale
