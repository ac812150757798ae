"""Grade students' notebooks against a chapter's solution notebook.

1. Snapshot: every entry of the submissions folder is read once, before any code runs:
   regular ``*.ipynb`` files (any case) up to :data:`MAX_FILE_BYTES`; everything else
   (hidden files, other names, links, FIFOs, devices, folders) is skipped and named.
2. For each submission, only the student's ``solution:*`` cells are taken (outputs are never
   read; a missing cell is graded as the blank stub; of duplicates, the last one that is not
   the blank stub) and put into the instructor's solution notebook.
3. A referee process (:mod:`nnkit.course.referee`) runs that notebook: the instructor's cells
   in its own trusted namespace, the student's cells in a sandboxed process
   (:mod:`nnkit.course.sandbox`), calling the student's functions through plain-data
   proxies. A check scores its points only when the referee saw it run without an exception.
4. Submissions are graded ``jobs`` at a time, each under a wall-clock limit; the gradebook,
   the feedback and the instructor's logs are written only after every run has ended.
"""

from __future__ import annotations

import ast
import contextlib
import csv
import io
import json
import os
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from .build import dumps, make_exercise, points, read, stub, tag_name, wrong_answers
from .sandbox import DEFAULT_LIMITS, Limits, limits_per_submission, remove_cgroups, sandbox_problem

__all__ = ["GradingError", "CheckResult", "Grade", "Submission", "find_chapter", "snapshot",
           "parse_submission", "grading_cells", "run_referee", "grade_submissions", "grade_folder",
           "write_reports", "shown", "sandbox_summary", "benchmark", "UNSAFE_OPTION"]

MAX_FILE_BYTES = 256 << 20        # a submitted file, outputs included
MAX_CODE_BYTES = 20 << 20         # a submission's code cells, outputs stripped
UNSAFE_OPTION = "--unsafe-no-sandbox"
_MESSAGE_LIMIT = 1500
_LOG_LIMIT = 64 << 10
_SIGNALS = {"signal SIGXCPU": "the CPU-time limit", "signal SIGXFSZ": "the file-size limit",
            "signal SIGKILL": "killed, e.g. out of memory", "signal SIGSEGV": "a crash"}


class GradingError(ValueError):
    """The grading job itself cannot start (no such chapter, no submissions, no sandbox)."""


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
    """One student's result: every check, a status line for the gradebook, the instructor's log."""

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


@dataclass
class Submission:
    """A submitted file as read once, before grading: its bytes, or why it is not graded."""

    student: str
    content: bytes | None
    problem: str = ""
    notes: list[str] = field(default_factory=list)


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


def _read_regular(path: Path) -> tuple[bytes | None, str]:
    """The bytes of the regular file ``path`` (never following a link, never blocking), or why not."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        return None, f"cannot be opened ({exc.strerror})"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, "not a regular file"
        if info.st_size > MAX_FILE_BYTES:
            return None, f"larger than {MAX_FILE_BYTES >> 20} MiB"
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            return None, f"larger than {MAX_FILE_BYTES >> 20} MiB"
        return data, ""
    finally:
        os.close(fd)


def _without_outputs(content: bytes | None) -> bytes | None:
    """A notebook's bytes with its outputs and attachments dropped (what is kept in memory until
    grading); unchanged when it is not a notebook (grading will say why)."""
    try:
        nb = json.loads(content)
        for cell in nb["cells"]:
            cell.pop("outputs", None)
            cell.pop("attachments", None)
        return json.dumps(nb).encode()
    except (TypeError, ValueError, KeyError, AttributeError, RecursionError):
        return content


def snapshot(folder: Path) -> tuple[dict[str, Submission], list[tuple[str, str]]]:
    """Read every submission in ``folder`` now: ({student: Submission}, [(skipped entry, why)]).

    ``NAME.ipynb`` (any case) is student NAME. Hidden entries, other names, symbolic links,
    FIFOs, devices and folders are skipped, each with the reason.
    """
    submissions, skipped = {}, []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        name = entry.name
        if name.startswith("."):
            skipped.append((name, "hidden file (its name starts with a dot)"))
        elif not name.lower().endswith(".ipynb") or len(name) == len(".ipynb"):
            skipped.append((name, "not a NAME.ipynb file"))
        elif entry.is_symlink():
            skipped.append((name, "a symbolic link (only regular files are graded)"))
        elif not entry.is_file(follow_symlinks=False):
            skipped.append((name, "not a regular file"))
        else:
            content, problem = _read_regular(Path(folder) / name)
            content = _without_outputs(content)
            if content is None and problem == "not a regular file":
                skipped.append((name, problem))
            else:
                submissions[name[:-len(".ipynb")]] = Submission(name[:-len(".ipynb")], content, problem)
    return submissions, skipped


def _source(cell: dict) -> str | None:
    source = cell.get("source")
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        return "".join(source)
    return source if isinstance(source, str) else None


def parse_submission(content: bytes, solution: dict) -> tuple[dict[str, str] | None, str, list[str]]:
    """The student's solution cells ({name: source}), or (None, why it cannot be graded), and notes.

    Outputs are dropped before the size limit applies. Of several cells with one tag, the last
    that is not the blank stub counts (a note says so).
    """
    try:
        nb = json.loads(content.decode("utf-8"))
    except UnicodeDecodeError:
        return None, "cannot be read as text (UnicodeDecodeError)", []
    except (ValueError, RecursionError) as exc:
        return None, f"not a Jupyter notebook ({type(exc).__name__})", []
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return None, "not a Jupyter notebook (no list of cells)", []
    code = [c for c in nb["cells"] if isinstance(c, dict) and c.get("cell_type") == "code"
            and isinstance(c.get("metadata", {}), dict)
            and isinstance(c.get("metadata", {}).get("tags", []), list)]
    if sum(len(_source(c) or "") for c in code) > MAX_CODE_BYTES:
        return None, f"more than {MAX_CODE_BYTES >> 20} MiB of code", []
    blanks = {name: stub(cell.source, name) for name, cell in
              ((tag_name(c, "solution"), c) for c in solution.cells) if name}
    found: dict[str, list[str]] = {}
    for cell in code:
        name, source = tag_name(cell, "solution"), _source(cell)
        if name in blanks and source is not None:
            found.setdefault(name, []).append(source)
    chosen, notes = {}, []
    for name, sources in found.items():
        done = [s for s in sources if s.strip() != blanks[name].strip()]
        chosen[name] = (done or sources)[-1]
        if len(sources) > 1:
            notes.append(f"solution:{name} appears {len(sources)} times: graded the last "
                         f"{'one' if not done else 'one that is not the blank'}")
    return chosen, "", notes


def _defines(source: str) -> list[str]:
    """The top-level functions (and classes) a solution cell defines."""
    return [node.name for node in ast.parse(source).body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]


def _parameters(source: str) -> dict[str, list[str]]:
    """The positional parameter names of each top-level function a solution cell defines, so
    that a proxy names an argument the way the exercise does (``call`` reports "`w` changed")."""
    functions = [node for node in ast.parse(source).body
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    return {node.name: [a.arg for a in node.args.posonlyargs + node.args.args] for node in functions}


def grading_cells(solution: dict, theirs: Mapping[str, str]) -> tuple[list[dict], list[str]]:
    """The referee's cells: the instructor's notebook with the student's solution sources in
    place (a missing one becomes the blank stub), and the names of those missing.

    Code cells after the last check cell are left out: they cannot change a score.
    """
    cells, missing = [], []
    for cell in solution.cells:
        if cell.cell_type != "code":
            continue
        name, check = tag_name(cell, "solution"), tag_name(cell, "check")
        if name is not None:
            if name not in theirs:
                missing.append(name)
            cells.append({"kind": "solution", "name": name, "defines": _defines(cell.source),
                          "parameters": _parameters(cell.source),
                          "source": theirs.get(name, stub(cell.source, name))})
        else:
            cells.append({"kind": "check" if check is not None else "other", "name": check,
                          "source": cell.source})
    last = max(i for i, cell in enumerate(cells) if cell["kind"] == "check")
    return cells[:last + 1], missing


def _label(record: dict) -> str:
    if record["kind"] == "other":
        return f"code cell {record['index']}"
    return f"{record['kind']}:{record['name']}"


def _clean(text: str) -> str:
    text = "".join(ch if ch.isprintable() or ch in "\n\t" else "?" for ch in text).strip()
    return text if len(text) <= _MESSAGE_LIMIT else text[:_MESSAGE_LIMIT] + " …"


def _failure(record: dict | None) -> str:
    """Why a check did not pass, for the student's feedback (never the check's source)."""
    if record is None:
        return "not run: the run stopped before this cell (see the status)"
    if record["timed_out"]:
        return "timed out: your code ran past the time limit in this cell"
    if record["died"] and record["outcome"] == "not run":
        return f"not run: your code's process {record['died']} in an earlier cell"
    if record["died"]:
        return f"failed: your code's process {record['died']} in this cell"
    ename, evalue = record["error"] or ("", "failed")
    text = f"{ename}: {evalue}" if ename else evalue
    notes = "".join(f"\n(note: {m})" for m in record.get("mutated", [])[:5])
    return _clean(text) + notes


def _status(records: list[dict], limits: Limits) -> str:
    """The gradebook's status: ok, or what stopped the student's code (the first such cell)."""
    for record in records:
        if record["timed_out"]:
            return f"timeout in {_label(record)} (over {limits.cell_timeout:g} s)"
        if record["died"] and record["outcome"] != "not run":
            why = record["died"]
            for signal_name, meaning in _SIGNALS.items():
                why = why.replace(signal_name, f"{signal_name}: {meaning}")
            return f"kernel {why} in {_label(record)}"
    return "ok"


def _notes(records: list[dict], missing: list[str], notes: list[str], limits: Limits) -> list[str]:
    out = [f"missing {', '.join(f'solution:{name}' for name in missing)} (graded as blank)"] * bool(missing)
    out += notes
    for record in records:
        ename = (record["error"] or [""])[0]
        if ename == "MemoryError":
            out.append(f"{_label(record)} ran out of memory (limit {limits.memory_mb} MiB)")
        elif record["kind"] == "solution" and ename and record["name"] not in missing:
            out.append(f"{_label(record)} raised {ename}")
    return out


def _score(solution: dict, student: str, records: list[dict], missing: list[str], notes: list[str],
           limits: Limits, log: str) -> Grade:
    by_name = {r["name"]: r for r in records if r["kind"] == "check"}
    checks = []
    for cell in solution.cells:
        name = tag_name(cell, "check")
        if name is not None:
            record = by_name.get(name)
            passed = record is not None and record["outcome"] == "passed"
            checks.append(CheckResult(name, points(cell), passed, "" if passed else _failure(record)))
    status = "; ".join([_status(records, limits), *_notes(records, missing, notes, limits)])
    return Grade(student, checks, status, log)


def _ungraded(solution: dict, student: str, status: str, why: str, log: str = "") -> Grade:
    """A grade of 0 on every check, each marked "not graded: ``why``"."""
    checks = [CheckResult(tag_name(c, "check"), points(c), False, f"not graded: {why}")
              for c in solution.cells if tag_name(c, "check") is not None]
    return Grade(student, checks, status, log)


def _referee_env(home: str) -> dict[str, str]:
    env = {name: os.environ[name] for name in ("PATH", "LANG", "PYTHONPATH") if name in os.environ}
    env.update(HOME=home, TMPDIR=home, MPLBACKEND="Agg", MPLCONFIGDIR=home, NNKIT_BACKEND="numpy",
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONDONTWRITEBYTECODE="1")
    return env


def run_referee(variants: list[dict], limits: Limits, sandboxed: bool,
                timeout: float) -> tuple[list[dict], str]:
    """Run the referee on ``variants``; (one result per variant it began, its log tail).

    A result: ``{"label", "cells": [one record per cell it finished], "done": bool, "log"}``.

    The referee and everything it started are killed at ``timeout`` seconds.
    """
    tag = uuid.uuid4().hex[:10]
    job = json.dumps({"limits": asdict(limits), "sandboxed": sandboxed, "variants": variants, "tag": tag})
    with tempfile.TemporaryDirectory(prefix="nnkit-referee-") as home:
        process = subprocess.Popen([sys.executable, "-s", "-m", "nnkit.course.referee"],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   cwd=home, env=_referee_env(home), start_new_session=True)
        try:
            out, err = process.communicate(job.encode(), timeout=timeout)
            killed = False
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            out, err = process.communicate(timeout=30)
            killed = True
        finally:
            if process.poll() is None:
                process.kill()
            remove_cgroups(tag)
    results: dict[str, dict] = {}
    for line in out.decode(errors="replace").splitlines():
        with contextlib.suppress(ValueError, KeyError, TypeError):
            line = json.loads(line)
            result = results.setdefault(line["label"], {"label": line["label"], "cells": [], "done": False})
            if "record" in line:
                result["cells"].append(line["record"])
            else:
                result.update(done=True, log=line.get("log", ""))
    log = err.decode(errors="replace")[-_LOG_LIMIT:]
    if killed:
        log += f"\n[the grader killed this run after {timeout:g} s]"
    return list(results.values()), log


def _grade_one(solution: dict, submission: Submission, limits: Limits, sandboxed: bool) -> Grade:
    student = submission.student
    if submission.content is None:
        return _ungraded(solution, student, f"invalid notebook: {submission.problem}",
                         f"the file is {submission.problem}")
    theirs, problem, notes = parse_submission(submission.content, solution)
    if theirs is None:
        return _ungraded(solution, student, f"invalid notebook: {problem}", f"the file is {problem}")
    cells, missing = grading_cells(solution, theirs)
    results, log = run_referee([{"label": student, "cells": cells}], limits, sandboxed, limits.wall_timeout)
    result = results[0] if results else {"cells": [], "done": False}
    log = f"{log}\n--- the student's output (tail) ---\n{result.get('log', '')}"
    grade = _score(solution, student, result["cells"], missing, submission.notes + notes, limits, log)
    if not result["done"]:
        why = (f"killed: over the {limits.wall_timeout:g} s limit for a submission"
               if "[the grader killed this run" in log else
               "crashed: the grading run ended early (see its log)")
        grade.status = "; ".join([why, *grade.status.split("; ")[1:]])
    return grade


def _cores() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _require_sandbox(unsandboxed: bool) -> bool:
    """True when the runs will be sandboxed; GradingError when they cannot be and the risk is not accepted."""
    problem = sandbox_problem()
    if problem is None:
        return True
    if not unsandboxed:
        raise GradingError(f"No sandbox for the students' code: {problem}. Without one, a submission runs "
                           "as your user: it can read and change your files (the solutions included), use "
                           "the network and fake other students' results. Grade on Linux with bubblewrap, "
                           f"or pass {UNSAFE_OPTION} to accept that risk.")
    return False


def grade_submissions(solution_path: Path, submissions: Mapping[str, Submission], jobs: int | None = None,
                      limits: Limits = DEFAULT_LIMITS, progress: bool = True,
                      unsandboxed: bool = False) -> list[Grade]:
    """Grade the snapshots ``{student: Submission}`` against ``solution_path``; sorted by student.

    unsandboxed: grade even where no sandbox can run (the students' code then runs as this user).
    """
    sandboxed = _require_sandbox(unsandboxed)
    solution = read(solution_path)
    jobs = jobs or _cores()
    grades = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(_grade_one, solution, submission, limits, sandboxed): student
                   for student, submission in submissions.items()}
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


def grade_folder(solution_path: Path, folder: Path, jobs: int | None = None, limits: Limits = DEFAULT_LIMITS,
                 progress: bool = True,
                 unsandboxed: bool = False) -> tuple[list[Grade], list[tuple[str, str]]]:
    """Grade every ``STUDENT.ipynb`` in ``folder``; returns (grades, [(skipped entry, why)])."""
    if not folder.is_dir():
        raise GradingError(f"{folder} is not a folder of submitted notebooks.")
    _require_sandbox(unsandboxed)
    submissions, skipped = snapshot(folder)
    if not submissions:
        raise GradingError(f"No .ipynb files in {folder}/ (one notebook per student, named by the student).")
    return grade_submissions(solution_path, submissions, jobs, limits, progress, unsandboxed), skipped


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
    return "\n".join(lines) + "\n"


def _cell(value: object) -> object:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r", "|", "%"):
        return "'" + value
    return value


def _folder(path: Path) -> Path:
    if path.is_symlink():
        path.unlink()
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_reports(grades: list[Grade], out: Path, skipped: list[tuple[str, str]] = ()) -> Path:
    """Write ``out/gradebook.csv``, ``out/feedback/STUDENT.txt`` (for students), ``out/logs/STUDENT.log``
    and ``out/skipped.txt`` (for the instructor); returns the gradebook's path.

    The gradebook has one row per student: the points of each check, the total, the maximum
    and the status.
    """
    feedback, logs = _folder(out / "feedback"), _folder(out / "logs")
    for grade in grades:
        _write(feedback / f"{grade.student}.txt", _feedback(grade))
        _write(logs / f"{grade.student}.log", grade.log)
    _write(out / "skipped.txt", "".join(f"{name!r}: {why}\n" for name, why in skipped))
    names = [check.name for check in grades[0].checks] if grades else []
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["student", *names, "total", "max", "status"])
    for grade in grades:
        writer.writerow([_cell(grade.student), *(c.score for c in grade.checks), grade.total,
                         grade.max_points, _cell(grade.status)])
    gradebook = out / "gradebook.csv"
    _write(gradebook, table.getvalue())
    return gradebook


def shown(name: str) -> str:
    """A file or student name as it may be printed on one console line (control characters escaped)."""
    return name if name.isprintable() else ascii(name)


def sandbox_summary(unsandboxed: bool = False) -> str:
    """One line for the console: how the students' code runs here."""
    if sandbox_problem() is not None:
        return "NONE (--unsafe-no-sandbox): the students' code ran as your user" if unsandboxed else "none"
    if limits_per_submission():
        return "bubblewrap; memory, processes and CPU limited per submission (cgroups)"
    return "bubblewrap; memory limited per process only, processes not counted (no writable cgroups)"


def benchmark(solution_path: Path, n: int, jobs: int | None = None, limits: Limits = DEFAULT_LIMITS,
              unsandboxed: bool = False) -> float:
    """Grade ``n`` synthetic submissions (the solution, the blank, each wrong answer, in turn).

    Prints and returns the throughput in submissions per minute.
    """
    solution = read(solution_path)
    variants = [solution, make_exercise(solution), *(nb for _, nb in wrong_answers(solution))]
    jobs = jobs or _cores()
    names = [f"student{i:03d}" for i in range(n)]
    submissions = {name: Submission(name, dumps(variants[i % len(variants)]).encode())
                   for i, name in enumerate(names)}
    start = time.perf_counter()
    grade_submissions(solution_path, submissions, jobs, limits, progress=True, unsandboxed=unsandboxed)
    seconds = time.perf_counter() - start
    rate = 60 * n / seconds
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"graded {n} submissions of {solution_path.stem} in {seconds:.1f} s with {jobs} parallel job(s) "
          f"on {_cores()} CPU(s) (load average {load:.1f} at the end); sandbox: "
          f"{sandbox_summary(unsandboxed)}: {rate:.1f} submissions per minute")
    return rate
