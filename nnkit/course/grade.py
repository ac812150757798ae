"""Grade students' notebooks against a chapter's solution notebook.

For each submission: take the instructor's solution notebook, swap in only the student's
``solution:*`` cells (a missing one is graded as the blank stub; edited or deleted check
cells change nothing), run it in the sandbox (:mod:`nnkit.course.sandbox`) under
``pytest --nbval-lax``, and score each ``check:*`` cell: its points if it ran without an
exception, else 0. Submissions run in parallel, each in its own process and folder; the
gradebook and the feedback files are written only after every run has ended.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import os
import re
import tempfile
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import nbformat
from tqdm.auto import tqdm

from .build import META, dumps, make_exercise, points, read, stub, tag_name, tagged_cells, wrong_answers
from .sandbox import DEFAULT_LIMITS, Janitor, Limits, Run, run_notebook

__all__ = ["GradingError", "CheckResult", "Grade", "find_chapter", "grading_notebook", "grade_notebooks",
           "grade_folder", "write_reports", "benchmark"]

MAX_NOTEBOOK_BYTES = 20 << 20
_MESSAGE_LIMIT = 1500
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_REVIEW = re.compile(r"nnkit\.course|\bcheck_\w+\s*=|sys\.modules|builtins|__import__|ctypes|subprocess|"
                     r"os\.system|os\._exit|import signal|signal\.|/proc/|\.ipynb|\bopen\(")
_SIGNALS = {"signal SIGXCPU": "the CPU-time limit", "signal SIGXFSZ": "the file-size limit",
            "signal SIGKILL": "killed, e.g. out of memory", "signal SIGSEGV": "a crash"}


class GradingError(ValueError):
    """The grading job itself cannot start (no such chapter, no submissions)."""


@dataclass
class CheckResult:
    """One check cell of one submission: ``points`` is what it is worth, ``message`` why it failed."""

    name: str
    points: int
    passed: bool
    message: str = ""

    @property
    def score(self) -> int:
        return self.points if self.passed else 0


@dataclass
class Grade:
    """One student's result: every check, a status line for the gradebook, pytest's log tail."""

    student: str
    checks: list[CheckResult]
    status: str
    log: str = ""

    @property
    def total(self) -> int:
        return sum(check.score for check in self.checks)

    @property
    def max_points(self) -> int:
        return sum(check.points for check in self.checks)


def find_chapter(chapter: str, solutions: Path) -> Path:
    """The solution notebook for ``chapter`` ("01", "01_single_neuron" or a path)."""
    if Path(chapter).is_file():
        return Path(chapter)
    matches = sorted(solutions.glob(f"{chapter}*.ipynb"))
    if len(matches) != 1:
        known = ", ".join(p.stem for p in sorted(solutions.glob("*.ipynb"))) or "none"
        raise GradingError(f"{'No' if not matches else 'More than one'} solution notebook in {solutions}/ "
                           f"matches {chapter!r} (there are: {known}).")
    return matches[0]


def _read_submission(path: Path) -> tuple[nbformat.NotebookNode | None, str]:
    """The submitted notebook, or (None, why it cannot be graded)."""
    try:
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            return None, f"larger than {MAX_NOTEBOOK_BYTES >> 20} MiB"
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"cannot be read as text ({type(exc).__name__})"
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # bad JSON, wrong structure, an old or unknown format: all mean "not a notebook"
        return None, f"not a Jupyter notebook ({type(exc).__name__})"
    if not isinstance(nb.get("cells"), list):
        return None, "not a Jupyter notebook (no list of cells)"
    return nb, ""


def grading_notebook(solution: dict, submission: dict) -> tuple[nbformat.NotebookNode, list[str]]:
    """The solution notebook with the student's ``solution:*`` cells in place, and the names they lack."""
    nb = copy.deepcopy(solution)
    theirs = tagged_cells(submission, "solution")
    missing = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        cell.metadata.get(META, {}).pop("wrong_answers", None)
        name = tag_name(cell, "solution")
        if name is None:
            continue
        source = theirs.get(name, {}).get("source")
        if isinstance(source, str):
            cell.source = source
        else:
            cell.source = stub(cell.source, name)
            missing.append(name)
    return nb, missing


def _label(cell: dict, index: int) -> str:
    """How the gradebook names a code cell: its tag, or its position."""
    for kind in ("solution", "check"):
        name = tag_name(cell, kind)
        if name is not None:
            return f"{kind}:{name}"
    return f"code cell {index}"


def _clean(text: str) -> str:
    text = _ANSI.sub("", text).strip()
    return text if len(text) <= _MESSAGE_LIMIT else text[:_MESSAGE_LIMIT] + " …"


def _failure(record: dict | None) -> str:
    """Why a check cell did not pass, for the student's feedback."""
    if record is None:
        return "not run: the run stopped before this cell (see the status)"
    ename, evalue = record.get("error") or ("", "")
    if "Kernel dead" in evalue:
        return "not run: the kernel had died in an earlier cell"
    if record.get("timed_out"):
        return "timed out: this cell ran past the time limit"
    if record.get("xfail") and not ename:
        return "not run: an earlier cell timed out"
    return _clean(f"{ename}: {evalue}" if ename else evalue or "failed")


def _status(run: Run, cells: list[dict], limits: Limits) -> str:
    """The gradebook's status word for a run: ok, timeout, kernel died, killed or crashed."""
    for index, cell in enumerate(cells):
        record = run.cells.get(index)
        if record is None:
            continue
        kernel = record.get("kernel")
        if record.get("phase") == "setup" and record.get("error") and not record.get("xfail"):
            return "crashed: the kernel did not start (see the feedback file)"
        if kernel and not (record.get("timed_out") and kernel == "signal SIGKILL"):
            return f"kernel died in {_label(cell, index)} ({_SIGNALS.get(kernel, kernel)})"
        if record.get("timed_out"):
            return f"timeout in {_label(cell, index)} (over {limits.cell_timeout:g} s)"
    if run.killed:
        return f"killed: over the {limits.wall_timeout:g} s limit for a submission"
    if not run.done:
        return "crashed: the run ended early (see the feedback file)"
    return "ok"


def _notes(run: Run, cells: list[dict], missing: list[str], limits: Limits) -> list[str]:
    """What else the instructor should know: missing cells, solution cells that raised, odd code."""
    notes = []
    if missing:
        notes.append(f"missing {', '.join(f'solution:{name}' for name in missing)} (graded as blank)")
    for index, cell in enumerate(cells):
        label = _label(cell, index)
        record = run.cells.get(index) or {}
        ename = (record.get("error") or [""])[0]
        if ename == "MemoryError":
            notes.append(f"{label} ran out of memory (limit {limits.memory_mb} MiB)")
        elif (label.startswith("solution:") and re.fullmatch(r"\w{1,40}", ename)
              and not record.get("xfail") and not record.get("timed_out")):
            notes.append(f"{label} raised {ename}")
        found = dict.fromkeys(_REVIEW.findall(cell.source)) if label.startswith("solution:") else {}
        if found and label[len("solution:"):] not in missing:
            notes.append(f"review {label}: it uses " + ", ".join(f"`{code}`" for code in found))
    return notes


def _score(student: str, nb: dict, missing: list[str], run: Run, limits: Limits) -> Grade:
    cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    digests = {i: hashlib.sha256(cell.source.encode()).hexdigest() for i, cell in enumerate(cells)}
    if any(digests.get(i) != digest for i, digest in run.digests.items()):
        return _ungraded(nb, student, "tampered: the notebook changed on disk during grading; grade it again "
                                      "with --jobs 1", "the notebook changed on disk", run.log)
    checks = []
    for index, cell in enumerate(cells):
        name = _label(cell, index)
        if name.startswith("check:"):
            record = run.cells.get(index)
            passed = record is not None and record.get("outcome") == "passed"
            checks.append(CheckResult(name[6:], points(cell), passed, "" if passed else _failure(record)))
    status = "; ".join([_status(run, cells, limits), *_notes(run, cells, missing, limits)])
    return Grade(student, checks, status, run.log)


def _ungraded(nb: dict, student: str, status: str, why: str, log: str = "") -> Grade:
    """A grade of 0 on every check of ``nb``, each marked "not graded: ``why``"."""
    checks = [CheckResult(name, points(cell), False, f"not graded: {why}")
              for name, cell in tagged_cells(nb, "check").items()]
    return Grade(student, checks, status, log)


def _grade_one(solution: dict, student: str, path: Path, limits: Limits, janitor: Janitor) -> Grade:
    submission, problem = _read_submission(path)
    if submission is None:
        return _ungraded(solution, student, f"invalid notebook: {problem}", f"the file is {problem}")
    nb, missing = grading_notebook(solution, submission)
    return _score(student, nb, missing, run_notebook(dumps(nb), limits, janitor), limits)


def _cores() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def grade_notebooks(solution_path: Path, submissions: Mapping[str, Path], jobs: int | None = None,
                    limits: Limits = DEFAULT_LIMITS, progress: bool = True) -> list[Grade]:
    """Grade ``{student: notebook path}`` against ``solution_path``, ``jobs`` at a time; sorted by student."""
    solution = read(solution_path)
    jobs = jobs or _cores()
    grades = []
    with Janitor() as janitor, ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(_grade_one, solution, student, path, limits, janitor): student
                   for student, path in submissions.items()}
        bar = tqdm(total=len(futures), desc=f"grading {solution_path.stem}", unit="notebook",
                   disable=not progress)
        for future in as_completed(futures):
            try:
                grades.append(future.result())
            except Exception as exc:  # a bug of ours on one odd submission must not stop the others
                status = f"crashed: grader error ({type(exc).__name__}: {exc})"
                grades.append(_ungraded(solution, futures[future], status, "the grader failed here"))
            bar.update()
        bar.close()
    return sorted(grades, key=lambda grade: grade.student)


def grade_folder(solution_path: Path, folder: Path, jobs: int | None = None,
                 limits: Limits = DEFAULT_LIMITS, progress: bool = True) -> list[Grade]:
    """Grade every ``STUDENT.ipynb`` in ``folder`` (the file name, without .ipynb, names the student)."""
    if not folder.is_dir():
        raise GradingError(f"{folder} is not a folder of submitted notebooks.")
    paths = sorted(p for p in folder.iterdir() if p.suffix == ".ipynb" and not p.name.startswith("."))
    if not paths:
        raise GradingError(f"No .ipynb files in {folder}/ (one notebook per student, named by the student).")
    return grade_notebooks(solution_path, {p.stem: p for p in paths}, jobs, limits, progress)


def _write(path: Path, text: str) -> None:
    """Replace ``path`` atomically (a symlink planted there is replaced, never followed)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def _feedback(grade: Grade) -> str:
    lines = [f"{grade.student}: {grade.total} / {grade.max_points} points", f"status: {grade.status}", ""]
    for check in grade.checks:
        mark = "✓" if check.passed else "✗"
        lines.append(f"{mark} check:{check.name}  {check.score} / {check.points}")
        lines += [f"    {line}" for line in check.message.splitlines()]
    if grade.log and not grade.status.startswith(("ok", "timeout")):
        lines += ["", "The end of the grading run's log (for your instructor):", grade.log[-3000:]]
    return "\n".join(lines) + "\n"


def write_reports(grades: list[Grade], out: Path) -> Path:
    """Write ``out/gradebook.csv`` and ``out/feedback/STUDENT.txt``; returns the gradebook's path.

    The gradebook has one row per student: the points of each check, the total, the maximum
    and the status.
    """
    feedback = out / "feedback"
    if feedback.is_symlink():
        feedback.unlink()
    feedback.mkdir(parents=True, exist_ok=True)
    for grade in grades:
        _write(feedback / f"{grade.student}.txt", _feedback(grade))
    names = [check.name for check in grades[0].checks] if grades else []
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["student", *names, "total", "max", "status"])
    for grade in grades:
        writer.writerow([grade.student, *(c.score for c in grade.checks), grade.total, grade.max_points,
                         grade.status])
    gradebook = out / "gradebook.csv"
    _write(gradebook, table.getvalue())
    return gradebook


def benchmark(solution_path: Path, n: int, jobs: int | None = None, limits: Limits = DEFAULT_LIMITS) -> float:
    """Grade ``n`` synthetic submissions (the solution, the blank, each wrong answer, in turn).

    Prints and returns the throughput in submissions per minute.
    """
    solution = read(solution_path)
    variants = [solution, make_exercise(solution), *(nb for _, nb in wrong_answers(solution))]
    jobs = jobs or _cores()
    with tempfile.TemporaryDirectory(prefix="nnkit-bench-") as folder:
        paths = {}
        for i in range(n):
            paths[f"student{i:03d}"] = Path(folder) / f"student{i:03d}.ipynb"
            paths[f"student{i:03d}"].write_text(dumps(variants[i % len(variants)]), encoding="utf-8")
        start = time.perf_counter()
        grade_notebooks(solution_path, paths, jobs, limits)
        seconds = time.perf_counter() - start
    rate = 60 * n / seconds
    print(f"graded {n} submissions of {solution_path.stem} in {seconds:.1f} s with {jobs} parallel job(s) "
          f"on {_cores()} CPU(s): {rate:.1f} submissions per minute")
    return rate
