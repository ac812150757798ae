"""Every chapter's exercises: built from their solutions, and checks that catch mistakes.

For each ``solutions/*.ipynb``: ``exercises/`` is up to date; every check passes on the
solution and fails on the blank exercise (hidden tests included, as the grader runs it); and
every wrong answer listed beside a solution makes at least one check fail. The variants of a
chapter run in one kernel (:mod:`nnkit.course.verify`), so this stays fast as chapters grow.
Below those, unit tests of the builder and of the grader's notebook swap.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from nnkit.course.__main__ import main
from nnkit.course.build import (
    FormatError,
    build,
    dumps,
    make_exercise,
    read,
    stub,
    tagged_cells,
    with_answer,
    wrong_answers,
)
from nnkit.course.grade import grading_cells, parse_submission
from nnkit.course.verify import problems, run_variants

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "solutions").glob("*.ipynb"))
WRONG = [(path, label) for path in CHAPTERS for label, _ in wrong_answers(read(path))]


@functools.cache
def _results(path: Path) -> dict:
    return run_variants(path)


def test_exercises_are_built_from_the_current_solutions():
    assert CHAPTERS, "no solution notebooks found"
    assert build(ROOT / "solutions", ROOT / "exercises", check=True) == [], \
        "exercises/ is stale: run `python -m nnkit.course build`"
    assert main(["--solutions", str(ROOT / "solutions"), "build", "--check",
                 "--exercises", str(ROOT / "exercises")]) == 0


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_the_exercise_gives_nothing_away(path):
    exercise = nbformat.read(ROOT / "exercises" / path.name, as_version=4)
    text = dumps(exercise)
    for secret in ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS", "wrong_answers"):
        assert secret not in text
    code = [cell for cell in exercise.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)
    for name, cell in tagged_cells(exercise, "solution").items():
        assert f"raise NotImplementedError(\"exercise '{name}' is not implemented yet" in cell.source
    assert tagged_cells(exercise, "check").keys() == tagged_cells(read(path), "check").keys()


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_check_passes_on_the_solution_and_fails_on_the_blank(path):
    results = _results(path)
    assert isinstance(results["solution"], dict) and results["solution"], results["solution"]
    assert [p for p in problems(results) if not p.startswith("wrong answer")] == []


@pytest.mark.parametrize(("path", "label"), WRONG, ids=[f"{p.stem}:{label}" for p, label in WRONG])
def test_every_wrong_answer_fails_a_check(path, label):
    outcomes = _results(path)[label]
    assert isinstance(outcomes, dict), outcomes
    assert any(why is not None for why in outcomes.values()), f"wrong answer {label} passes every check"


def _notebook(*cells):
    return new_notebook(cells=list(cells))


def _cell(source, tag=None, **course):
    cell = new_code_cell(source)
    if tag:
        cell.metadata["tags"] = [tag]
    if course:
        cell.metadata["course"] = course
    return cell


SOLVED = _cell("def f(x):\n    '''Doubles.'''\n    ### BEGIN SOLUTION\n    y = 2 * x\n    return y\n"
               "    ### END SOLUTION\n\nA = 1", "solution:f", wrong_answers={"triple": "return 3 * x"})
CHECK = _cell("assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(2) == 4\n### END HIDDEN TESTS", "check:f",
              points=3)


def test_a_stub_keeps_the_scaffolding_and_raises_at_the_markers_indentation():
    assert stub(SOLVED.source, "f") == (
        "def f(x):\n    '''Doubles.'''\n    # YOUR CODE HERE\n"
        "    raise NotImplementedError(\"exercise 'f' is not implemented yet: replace this line with your "
        "code, then run this cell again\")\n\nA = 1")
    two = ("### BEGIN SOLUTION\na = 1\n### END SOLUTION\n"
           "if a:\n    ### BEGIN SOLUTION\n    b = 2\n    ### END SOLUTION")
    assert stub(two, "g").count("raise NotImplementedError") == 2
    assert with_answer(two, ["a = 5", "b = a"]) == "a = 5\nif a:\n    b = a"


def test_make_exercise_strips_answers_hidden_tests_and_outputs_but_keeps_points():
    solution = _notebook(new_markdown_cell("# Title"), SOLVED, CHECK)
    solution.cells[2].outputs = [nbformat.v4.new_output("stream", text="ok")]
    solution.cells[2].execution_count = 3
    exercise = make_exercise(solution)
    assert exercise.cells[0] == solution.cells[0]
    assert exercise.cells[1].metadata == {"tags": ["solution:f"]}
    assert exercise.cells[2].source == "assert f(1) == 2"
    assert exercise.cells[2].metadata == {"tags": ["check:f"], "course": {"points": 3}}
    assert exercise.cells[2].outputs == [] and exercise.cells[2].execution_count is None
    assert solution.cells[1].metadata["course"]["wrong_answers"], "the source must not change"
    [(label, wrong)] = wrong_answers(solution)
    assert label == "f/triple" and "    return 3 * x" in wrong.cells[1].source


@pytest.mark.parametrize(("cells", "says"), [
    ([_cell("### BEGIN SOLUTION\nx = 1", "solution:a"), CHECK], "without `### END SOLUTION`"),
    ([_cell("x = 1", "solution:a"), CHECK], "go together"),
    ([_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION"), CHECK], "go together"),
    ([_cell("### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS"), CHECK], "hidden tests belong in a cell tagged"),
    ([SOLVED, CHECK, _cell(CHECK.source, "check:f")], "tag `check:f` is not a unique name"),
    ([SOLVED, _cell("assert f(1) == 2", "check:f", points=1.5)], "points must be a whole number"),
    ([_cell(SOLVED.source, "solution:f", wrong_answers={"w": ["a", "b"]}), CHECK],
     "gives 2 block(s) of code"),
    ([SOLVED], "no cell is tagged `check:<name>`"),
])
def test_format_errors_name_the_cell_and_the_rule(tmp_path, cells, says):
    path = tmp_path / "01_bad.ipynb"
    nbformat.write(_notebook(*copy.deepcopy(cells)), path)
    with pytest.raises(FormatError) as info:
        read(path)
    assert says in str(info.value) and str(path) in str(info.value)


def test_build_writes_reports_stale_files_and_removes_orphans(tmp_path):
    solutions, exercises = tmp_path / "solutions", tmp_path / "exercises"
    solutions.mkdir()
    nbformat.write(_notebook(SOLVED, CHECK), solutions / "01_f.ipynb")
    assert build(solutions, exercises, check=True) == [f"{exercises / '01_f.ipynb'}: missing"]
    assert build(solutions, exercises) == [f"{exercises / '01_f.ipynb'}: missing"]
    assert build(solutions, exercises, check=True) == []
    (exercises / "99_old.ipynb").write_text("{}")
    orphan = exercises / "99_old.ipynb"
    assert build(solutions, exercises, check=True) == [f"{orphan}: has no solution notebook"]
    build(solutions, exercises)
    assert sorted(p.name for p in exercises.iterdir()) == ["01_f.ipynb"]


def test_grading_swaps_in_only_the_students_solution_cells():
    other = _cell("def g():\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION", "solution:g")
    solution = _notebook(SOLVED, other, CHECK, _cell("print('after the last check')"))
    submission = copy.deepcopy(make_exercise(solution))
    submission.cells[0].source = "def f(x):\n    return x + x"
    submission.cells[2].source = "assert True"
    del submission.cells[1]
    submission.cells.append(_cell("print('scratch')"))
    theirs, problem, notes = parse_submission(dumps(submission).encode(), solution)
    assert (theirs, problem, notes) == ({"f": "def f(x):\n    return x + x"}, "", [])
    cells, missing = grading_cells(solution, theirs)
    assert [(c["kind"], c["name"]) for c in cells] == [("solution", "f"), ("solution", "g"), ("check", "f")]
    assert cells[0]["source"] == "def f(x):\n    return x + x" and cells[2]["source"] == CHECK.source
    assert missing == ["g"] and "raise NotImplementedError" in cells[1]["source"]
    assert cells[0]["defines"] == ["f"] and cells[1]["defines"] == ["g"]
