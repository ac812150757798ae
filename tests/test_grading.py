"""The grader against every kind of submission, hostile ones included.

One grading run (module-scoped fixture) grades a folder of synthetic submissions of the
pilot chapter, each built from the solution notebook with one thing changed; the tests then
check each student's score, status and feedback, and that the gradebook is the grader's own.
"""

from __future__ import annotations

import copy
import csv
import re
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from nnkit.course.build import dumps, make_exercise, read, tag_name, with_answer
from nnkit.course.grade import grade_folder, write_reports
from nnkit.course.sandbox import Limits

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / "01_single_neuron.ipynb"
LIMITS = Limits(cell_timeout=8, wall_timeout=120, memory_mb=1024, cpu_seconds=60)
FULL = 11  # the pilot chapter's points: 1 + 1 + 1 + 1 + 1 + 2 + 2 + 2


def _solution():
    return read(SOLUTION)


def _replace(nb, **sources):
    """A copy of ``nb`` with the named solution cells' sources replaced."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        name = tag_name(cell, "solution")
        if name in sources:
            cell.source = textwrap.dedent(sources[name]).strip()
    return nb


def _prepend(nb, name, code):
    """A copy of ``nb`` with ``code`` run at the top of solution cell ``name``."""
    cell = next(c for c in nb.cells if tag_name(c, "solution") == name)
    return _replace(nb, **{name: textwrap.dedent(code).strip() + "\n" + cell.source})


def _with_wrong(*labels):
    """The solution with the named wrong answers ("<exercise>/<label>") in place."""
    nb = _solution()
    for label in labels:
        name, wrong = label.split("/")
        cell = next(c for c in nb.cells if tag_name(c, "solution") == name)
        cell.source = with_answer(cell.source, cell.metadata["course"]["wrong_answers"][wrong])
    return nb


def _submissions(out: Path, pid_file: Path) -> dict[str, tuple[object, int, str]]:
    """{student: (notebook or raw text, expected total, regex the status must match)}."""
    solution = _solution()
    blank = make_exercise(solution)
    checks_edited = copy.deepcopy(blank)
    for cell in checks_edited.cells:
        if tag_name(cell, "check"):
            cell.source = "assert True"
    checks_deleted = copy.deepcopy(solution)
    checks_deleted.cells = [c for c in solution.cells if not tag_name(c, "check")]
    cell_deleted = copy.deepcopy(solution)
    cell_deleted.cells = [c for c in solution.cells if tag_name(c, "solution") != "sigmoid"]
    untagged = copy.deepcopy(solution)
    next(c for c in untagged.cells if tag_name(c, "solution") == "affine").metadata["tags"] = []
    forge = """
        import glob, json, os
        fake = json.dumps({"token": "", "cell": 2, "outcome": "passed", "phase": "call"}) + "\\n"
        targets = ["/dev/stdout", "/dev/stderr"] + glob.glob(f"/proc/{os.getppid()}/fd/*")
        for target in targets:
            try:
                with open(target, "w") as f:
                    f.write(fake * 100)
            except OSError:
                pass
        for name in glob.glob("*"):
            if name.endswith((".ipynb", ".json", ".xml")):
                open(name, "w").write(fake)
        """
    vandal = f"""
        import os
        out = {str(out)!r}
        os.makedirs(os.path.join(out, "elsewhere"), exist_ok=True)
        with open(os.path.join(out, "elsewhere", "bait.csv"), "w") as f:
            f.write("student,total\\nvandal,999\\n")
        os.symlink(os.path.join(out, "elsewhere", "bait.csv"), os.path.join(out, "gradebook.csv"))
        os.symlink(os.path.join(out, "elsewhere"), os.path.join(out, "feedback"))
        """
    daemon = f"""
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                open({str(pid_file)!r}, "w").write(str(os.getpid()))
                time.sleep(600)
            os._exit(0)
        while not os.path.exists({str(pid_file)!r}):
            time.sleep(0.05)
        """
    loop = "def perceptron_update(x, y, w, b, lr=1.0):\n    while True:\n        pass"
    uses = "review solution:affine: it uses "
    return {
        "correct": (solution, FULL, r"ok"),
        "blank": (blank, 0, r"ok"),
        "partly_wrong": (_with_wrong("bce_loss/sum_not_mean", "perceptron_update/always_update"),
                         FULL - 4, r"ok"),
        "checks_edited": (checks_edited, 0, r"ok"),
        "checks_deleted": (checks_deleted, FULL, r"ok"),
        "cell_deleted": (cell_deleted, FULL - 5, r"ok; missing solution:sigmoid \(graded as blank\)"),
        "tag_removed": (untagged, FULL - 4, r"ok; missing solution:affine \(graded as blank\)"),
        "syntax_error": (_replace(solution, sigmoid="def sigmoid(z)\n    return 1"), FULL - 5,
                         r"ok; solution:sigmoid raised SyntaxError"),
        "exception": (_replace(solution, bce_loss="def bce_loss(y, p):\n    raise ValueError('no idea')"),
                      FULL - 2, r"ok"),
        "infinite_loop": (_replace(solution, perceptron_update=loop), FULL - 2,
                          r"timeout in check:perceptron_update \(over 8 s\)"),
        "memory_bomb": (_prepend(solution, "l2_loss", "blob = [np.ones(2**24) for _ in range(10**4)]"),
                        FULL - 1, r"ok; solution:l2_loss ran out of memory \(limit 1024 MiB\)"),
        "huge_output": (_prepend(solution, "affine", "for i in range(100_000):\n    print(i, 'spam' * 20)"),
                        FULL, r"ok"),
        "sys_exit": (_prepend(solution, "sigmoid", "import sys\nsys.exit('bye')"), FULL - 5,
                     r"ok; solution:sigmoid raised SystemExit"),
        "os_exit": (_prepend(solution, "bce_loss", "import os\nos._exit(3)"), 5,
                    r"kernel died in solution:bce_loss \(exit code 3\); "
                    r"review solution:bce_loss: it uses `os\._exit`"),
        "forger": (_prepend(blank, "affine", forge), 0, rf"ok; {uses}`/proc/`, `open\(`, `\.ipynb`"),
        "vandal": (_prepend(solution, "affine", vandal), FULL, rf"ok; {uses}`open\(`"),
        "daemon": (_prepend(solution, "affine", daemon), FULL, rf"ok; {uses}`open\(`, `os\._exit`"),
        "not_a_notebook": ("this is { not a notebook", 0,
                           r"invalid notebook: not a Jupyter notebook \(NotJSONError\)"),
        "not_json_utf8": (b"\xff\xfe\x00garbage", 0,
                          r"invalid notebook: cannot be read as text \(UnicodeDecodeError\)"),
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade every synthetic submission in one run.

    Returns (cases, grades by student, the output folder, the daemon's pid file, processes left over).
    """
    folder, out = tmp_path_factory.mktemp("submissions"), tmp_path_factory.mktemp("grades")
    pid_file = tmp_path_factory.mktemp("daemon") / "pid"
    cases = _submissions(out, pid_file)
    for student, (content, _, _) in cases.items():
        path = folder / f"{student}.ipynb"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content if isinstance(content, str) else dumps(content), encoding="utf-8")
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    start = time.perf_counter()
    grades = grade_folder(SOLUTION, folder, jobs=2, limits=LIMITS, progress=False)
    print(f"graded {len(grades)} submissions in {time.perf_counter() - start:.1f} s")
    write_reports(grades, out)
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    return cases, {grade.student: grade for grade in grades}, out, pid_file, left


STUDENTS = list(_submissions(Path("out"), Path("pid")))


@pytest.mark.parametrize("student", STUDENTS)
def test_each_submission_gets_the_score_and_status_it_deserves(graded, student):
    cases, grades, *_ = graded
    _, total, status = cases[student]
    grade = grades[student]
    assert grade.max_points == FULL
    assert grade.total == total, f"{student}: {grade.status}; {grade.checks}"
    assert re.fullmatch(status, grade.status), f"{student}: status {grade.status!r}"


def test_feedback_tells_the_student_what_went_wrong(graded):
    _, _, out, *_ = graded
    feedback = {path.stem: path.read_text(encoding="utf-8") for path in (out / "feedback").iterdir()}
    assert feedback["correct"].startswith("correct: 11 / 11 points\nstatus: ok\n")
    assert "✓ check:affine  1 / 1" in feedback["correct"]
    assert "exercise 'sigmoid' is not implemented yet" in feedback["blank"]
    assert "values off: largest error" in feedback["partly_wrong"]
    assert "ValueError: no idea" in feedback["exception"]
    assert "timed out: this cell ran past the time limit" in feedback["infinite_loop"]
    assert "not run: the kernel had died in an earlier cell" in feedback["os_exit"]
    assert "not graded: the file is not a Jupyter notebook" in feedback["not_a_notebook"]


def test_the_gradebook_is_written_by_the_grader_alone(graded):
    cases, grades, out, *_ = graded
    assert not (out / "gradebook.csv").is_symlink() and not (out / "feedback").is_symlink()
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [row["student"] for row in rows] == sorted(cases)
    assert list(rows[0]) == ["student", "affine", "sigmoid", "sigmoid_derivative", "neuron_forward",
                             "l2_loss", "bce_loss", "gradient_step", "perceptron_update", "total", "max",
                             "status"]
    for row in rows:
        assert int(row["total"]) == cases[row["student"]][1] == grades[row["student"]].total
        assert row["status"] == grades[row["student"]].status
    assert (out / "elsewhere" / "bait.csv").read_text() == "student,total\nvandal,999\n"
    assert (out / "feedback" / "correct.txt").read_text(encoding="utf-8").startswith("correct: 11 / 11")


def test_no_process_outlives_its_grading(graded):
    *_, pid_file, left = graded
    daemon = int(pid_file.read_text())
    assert not psutil.pid_exists(daemon) or psutil.Process(daemon).status() == psutil.STATUS_ZOMBIE
    assert left == []


def test_a_whole_run_over_the_wall_clock_limit_is_killed(tmp_path):
    nb = _prepend(_solution(), "sigmoid", "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                          "while True:\n    pass")
    (tmp_path / "stubborn.ipynb").write_text(dumps(nb), encoding="utf-8")
    limits = Limits(cell_timeout=60, wall_timeout=15, memory_mb=1024, cpu_seconds=60)
    start = time.perf_counter()
    [grade] = grade_folder(SOLUTION, tmp_path, jobs=1, limits=limits, progress=False)
    assert time.perf_counter() - start < 40
    assert grade.status.startswith("killed: over the 15 s limit for a submission")
    assert grade.total == 1  # check:affine ran before the stubborn cell
