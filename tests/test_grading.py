"""The grader against every kind of submission, hostile ones included (issue 11).

One grading run (module-scoped fixture, through the command line, two jobs at once) grades
a folder of synthetic submissions of the pilot chapter: honest ones, broken ones, and one
per attack route the issue names, each built from the blank exercise (or the solution)
with the attack added to a solution cell. Every hostile submission must earn no more than
the blank exercise, and the honest ones graded beside them keep their scores. Then the
tests read the gradebook, the feedback and the logs, and look for traces outside the
sandbox (files, processes, connections).

In CI (``NNKIT_REQUIRE_SANDBOX=1``) a missing sandbox fails these tests; elsewhere it skips
them. Without a sandbox the grader refuses to grade unless told to accept the risk.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import hashlib
import io
import os
import re
import socket
import textwrap
import threading
import time
import uuid
from pathlib import Path

import psutil
import pytest
from nbformat.v4 import new_output

import nnkit.course as course_package
from nnkit.course import sandbox
from nnkit.course.__main__ import main
from nnkit.course.build import dumps, make_exercise, points, read, tag_name, tagged_cells, with_answer
from nnkit.course.grade import GradingError, grade_folder
from nnkit.course.sandbox import Limits

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / "01_single_neuron.ipynb"
FULL = 17  # the pilot chapter's points: 1 + 1 + 1 + 1 + 1 + 2 + 2 + 2, then 3 + 3
TRAINING = 3  # check:train_until_converged, which calls sigmoid, affine, bce_loss and gradient_step
CELL_TIMEOUT = 6
MEMORY_MB = 1024
MARK = f"nnkit-attack-{uuid.uuid4().hex[:8]}"            # names what the attacks leave, if anything
SECRET = f"instructor-secret-{uuid.uuid4().hex}"           # in the grader's environment only
HIDDEN = "rng = np.random.default_rng(3)"                  # a line of chapter 1's hidden tests
COURSE_FILES = sorted(Path(course_package.__file__).parent.glob("*.py"))


@pytest.fixture(scope="module")
def sandboxed():
    """Skip (or, with NNKIT_REQUIRE_SANDBOX=1, fail) where bubblewrap cannot run."""
    problem = sandbox.sandbox_problem()
    if problem and os.environ.get("NNKIT_REQUIRE_SANDBOX") == "1":
        pytest.fail(f"NNKIT_REQUIRE_SANDBOX=1 but no sandbox: {problem}")
    if problem:
        pytest.skip(f"no sandbox here: {problem}")


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


def _attack(code, cell="affine"):
    """The blank exercise with ``code`` at the end of solution cell ``cell``, its errors ignored."""
    nb = make_exercise(_solution())
    target = next(c for c in nb.cells if tag_name(c, "solution") == cell)
    body = textwrap.indent(textwrap.dedent(code).strip(), "    ")
    return _replace(nb, **{cell: f"{target.source}\ntry:\n{body}\nexcept BaseException:\n    pass"})


def _with_wrong(*labels):
    """The solution with the named wrong answers ("<exercise>/<label>") in place."""
    nb = _solution()
    for label in labels:
        name, wrong = label.split("/")
        cell = next(c for c in nb.cells if tag_name(c, "solution") == name)
        cell.source = with_answer(cell.source, cell.metadata["course"]["wrong_answers"][wrong])
    return nb


# Each attack runs inside the student's process; "blank" means it starts from the blank exercise.
IN_KERNEL = {
    "hide_tracebacks": """
        ip = get_ipython()
        ip.showtraceback = lambda *a, **k: None
        ip.set_custom_exc((BaseException,), lambda *a, **k: None)
        """,
    "input_and_ast_transformers": """
        import ast
        ip = get_ipython()
        ip.input_transformers_post.append(lambda lines: ["pass\\n"])
        class Empty(ast.NodeTransformer):
            def visit_Module(self, node):
                return ast.Module(body=[], type_ignores=[])
        ip.ast_transformers.append(Empty())
        """,
    "swap_check_code_via_gc": """
        import gc
        import nnkit.course.checks
        for obj in gc.get_objects():
            if callable(obj) and getattr(obj, "__name__", "").startswith(("check_", "_fail", "_passed")):
                obj.__code__ = (lambda *a, **k: None).__code__
        """,
    "patch_numpy_used_by_helpers": """
        import numpy
        numpy.any = lambda *a, **k: False
        numpy.abs = lambda x: x * 0
        numpy.isfinite = lambda x: numpy.ones(numpy.shape(x), bool)
        """,
    "lying_ndarray_subclass": """
        class Liar(np.ndarray):
            def __sub__(self, other):
                return np.zeros(np.shape(other))
            __rsub__ = __sub__
            def __eq__(self, other):
                return np.ones(np.shape(other), bool)
            def __ne__(self, other):
                return np.zeros(np.shape(other), bool)
        def affine(x, w, b):
            return np.zeros(len(x)).view(Liar)
        globals()["affine"] = affine
        """,
    "rebind_helpers_through_globals": """
        for _name in ("check_close", "check_equal", "check_scalar", "check_shape", "AssertionError"):
            globals()[_name] = lambda *a, **k: None
        import builtins, sys
        builtins.AssertionError = KeyboardInterrupt
        for module in list(sys.modules.values()):
            if getattr(module, "__name__", "").startswith("nnkit.course"):
                for _name in ("check_close", "check_scalar", "check_equal", "check_shape"):
                    setattr(module, _name, lambda *a, **k: None)
        """,
    "fullwidth_identifier": """
        ｃｈｅｃｋ_close = ｃｈｅｃｋ_scalar = lambda *a, **k: None
        """,
    "read_the_solutions_from_disk": f"""
        import glob, json
        for path in [{str(SOLUTION)!r}, *glob.glob("/*/*/solutions/01_*.ipynb")]:
            try:
                for cell in json.load(open(path))["cells"]:
                    if any(t.startswith("solution:") for t in cell["metadata"].get("tags", [])):
                        exec("".join(cell["source"]), globals())
                break
            except OSError:
                pass
        """,
    "copy_a_classmate_through_proc": """
        import glob, json, os
        paths = glob.glob("/proc/*/cwd/*.ipynb") + glob.glob("/proc/*/fd/*") + glob.glob(SUBMISSIONS + "/*")
        for path in paths:
            if "attack" in path or not os.path.isfile(path):
                continue
            try:
                for cell in json.load(open(path))["cells"]:
                    if any(t.startswith("solution:") for t in cell["metadata"].get("tags", [])):
                        exec("".join(cell["source"]), globals())
            except Exception:
                pass
        """,
    "forge_results_through_proc": """
        import glob, os
        fake = '{"token": "", "cell": 2, "outcome": "passed", "phase": "call"}\\n' * 100
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    open(f"/proc/{pid}/mem", "rb").read(16)
                except OSError:
                    pass
        for target in ["/dev/stdout", "/dev/stderr"] + glob.glob("/proc/*/fd/*"):
            try:
                with open(target, "w") as f:
                    f.write(fake)
            except OSError:
                pass
        for fd in range(3, 64):
            try:
                os.write(fd, b"\\x10" + b"\\x00" * 7 + b"{" * 16)
            except OSError:
                pass
        """,
}

# These define correct functions if they succeed: at the end of the last cell, no stub overrides them.
LAST_CELL = ("read_the_solutions_from_disk", "copy_a_classmate_through_proc")

RUIN = {
    "kill_or_stop_the_grader": """
        import os, signal
        for pid in list(range(1, 5000)) + [os.getppid()]:
            if pid != os.getpid():
                for sig in (signal.SIGSTOP, signal.SIGKILL):
                    try:
                        os.kill(pid, sig)
                    except OSError:
                        pass
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            try:
                os.kill(-1, sig)
            except OSError:
                pass
        """,
    "hold_the_pipes_open": f"""
        import os, subprocess, sys
        if os.fork() == 0:
            os.setsid()
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", {MARK!r}],
                             stdin=0, stdout=1, stderr=2, close_fds=False)
            os._exit(0)
        """,
    "rewrite_classmates_files": """
        import glob
        for path in glob.glob(SUBMISSIONS + "/*.ipynb") + glob.glob("/proc/*/cwd/*.ipynb"):
            try:
                open(path, "w").write("{}")
            except OSError:
                pass
        """,
    "plant_code_in_the_grader": """
        import glob, os, nnkit.course
        folder = os.path.dirname(nnkit.course.__file__)
        for path in glob.glob(folder + "/*.py"):
            try:
                with open(path, "a") as f:
                    f.write("\\nimport builtins; builtins.PLANTED = True\\n")
            except OSError:
                pass
        try:
            open(folder + "/sitecustomize.py", "w").write("PLANTED = True")
        except OSError:
            pass
        """,
    "read_the_environment_and_hidden_tests": """
        import glob, os, sys, traceback
        def affine(x, w, b):
            stack = "".join(traceback.format_stack())
            frames = []
            frame = sys._getframe()
            while frame:
                frames.append(repr(frame.f_globals.keys()))
                frame = frame.f_back
            environ = [repr(dict(os.environ))]
            for path in glob.glob("/proc/*/environ"):
                try:
                    environ += open(path, "rb").read().decode(errors="replace").split(chr(0))
                except OSError:
                    pass
            found = [text for text in environ if "NNKIT_TEST_SECRET" in text]
            raise ValueError(" ".join(found + environ) + stack + "".join(frames))
        globals()["affine"] = affine
        """,
    "network": """
        import socket
        for host in ("127.0.0.1", "10.0.2.2", "1.1.1.1"):
            try:
                socket.create_connection((host, PORT), timeout=2).sendall(b"hello")
            except OSError:
                pass
        """,
    "memory_by_forking": """
        import os, time
        for _ in range(6):
            if os.fork() == 0:
                try:
                    block = bytearray(300 << 20)
                    for i in range(0, len(block), 4096):
                        block[i] = 1
                    time.sleep(20)
                finally:
                    os._exit(0)
        for _ in range(300):
            try:
                if os.fork() == 0:
                    time.sleep(20)
                    os._exit(0)
            except OSError:
                break
        time.sleep(1)
        """,
    "write_gigabytes": f"""
        import os
        block = b"x" * (1 << 20)
        for folder in ("/tmp", os.path.expanduser("~"), "/var/tmp", "/dev/shm", OUT, SUBMISSIONS, "/"):
            try:
                with open(os.path.join(folder, {MARK!r}), "wb") as f:
                    for _ in range(1024):
                        f.write(block)
            except OSError:
                pass
        """,
}


def _submissions(folder: Path, out: Path, port: int) -> dict[str, tuple[object, int, str]]:
    """{file name: (notebook, raw text or bytes, expected total, regex the status must match)}."""
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
    duplicated = copy.deepcopy(blank)
    sigmoid = next(c for c in solution.cells if tag_name(c, "solution") == "sigmoid")
    duplicated.cells.append(copy.deepcopy(sigmoid))
    duplicated.cells[-1].id = "sigmoid-again"
    plots = copy.deepcopy(solution)
    plots.cells[1].outputs = [new_output("display_data", data={"image/png": "iVBORw0KGgo" * (3 << 20)})]
    loop = "def perceptron_update(x, y, w, b, lr=1.0):\n    while True:\n        pass"
    context = f"SUBMISSIONS, OUT, PORT = {str(folder)!r}, {str(out)!r}, {port}\n"
    cases = {
        "correct": (solution, FULL, r"ok"),
        "blank": (blank, 0, r"ok"),
        "partly_wrong": (_with_wrong("bce_loss/sum_not_mean", "perceptron_update/always_update"),
                         FULL - 4 - TRAINING, r"ok"),
        "checks_edited": (checks_edited, 0, r"ok"),
        "checks_deleted": (checks_deleted, FULL, r"ok"),
        "cell_deleted": (cell_deleted, FULL - 5 - TRAINING,
                         r"ok; missing solution:sigmoid \(graded as blank\)"),
        "tag_removed": (untagged, FULL - 4 - TRAINING, r"ok; missing solution:affine \(graded as blank\)"),
        "duplicated_cell": (duplicated, 1,
                            r"ok; solution:sigmoid appears 2 times: graded the last one that is not the "
                            r"blank"),
        "syntax_error": (_replace(solution, sigmoid="def sigmoid(z)\n    return 1"), FULL - 5 - TRAINING,
                         r"ok; solution:sigmoid raised SyntaxError"),
        "exception": (_replace(solution, bce_loss="def bce_loss(y, p):\n    raise ValueError('no idea')"),
                      FULL - 2 - TRAINING, r"ok"),
        "infinite_loop": (_replace(solution, perceptron_update=loop), FULL - 2 - 3 - TRAINING,  # + later
                          rf"timeout in check:perceptron_update \(over {CELL_TIMEOUT} s\)"),
        "memory_bomb": (_prepend(solution, "l2_loss", "blob = [np.ones(2**24) for _ in range(10**4)]"),
                        FULL - 1,
                        rf"ok; solution:l2_loss ran out of memory \(limit {MEMORY_MB} MiB\)"),
        "sys_exit": (_prepend(solution, "sigmoid", "import sys\nsys.exit('bye')"), FULL - 5 - TRAINING,
                     r"ok; solution:sigmoid raised SystemExit"),
        "os_exit": (_prepend(solution, "bce_loss", "import os\nos._exit(3)"), 5,
                    r"kernel died \(exit code 3\) in solution:bce_loss"),
        "huge_printed_output": (_prepend(solution, "affine", "for i in range(300_000):\n"
                                                             "    print(i, 'spam' * 20)"), FULL, r"ok"),
        "big_only_because_of_plots": (plots, FULL, r"ok"),
        "ADA.IPYNB": (solution, FULL, r"ok"),
        "=1+1": (solution, FULL, r"ok"),
        "new\nline": (blank, 0, r"ok"),
        "not_a_notebook": ("this is { not a notebook", 0,
                           r"invalid notebook: not a Jupyter notebook \(JSONDecodeError\)"),
        "not_utf8": (b"\xff\xfe\x00garbage", 0,
                     r"invalid notebook: cannot be read as text \(UnicodeDecodeError\)"),
    }
    for name, code in {**IN_KERNEL, **RUIN}.items():
        cell = "perceptron_update" if name in LAST_CELL else "affine"
        cases[f"attack_{name}"] = (_attack(context + textwrap.dedent(code), cell), 0, r".*")
    return cases


STUDENTS = list(_submissions(Path("s"), Path("o"), 1))
ATTACKS = [s for s in STUDENTS if s.startswith("attack_")]
SKIPPED = {".hidden.ipynb": "hidden file", "x.ipynb.json": "not a NAME.ipynb file",
           "fifo.ipynb": "not a regular file", "zero.ipynb": "a symbolic link",
           "folder.ipynb": "not a regular file"}


def _listen() -> tuple[socket.socket, list[bytes]]:
    """A TCP server on localhost that records what every connection sends."""
    server = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []

    def accept():
        with contextlib.suppress(OSError):
            while True:
                connection, _ = server.accept()
                received.append(connection.recv(100) or b"(connected)")
                connection.close()
    threading.Thread(target=accept, daemon=True).start()
    return server, received


def _digests(paths) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths if p.is_file()}


@pytest.fixture(scope="module")
def graded(sandboxed, tmp_path_factory):
    """Grade every synthetic submission in one run of ``python -m nnkit.course grade``, two at a time."""
    folder, out = tmp_path_factory.mktemp("submissions"), tmp_path_factory.mktemp("grades")
    server, received = _listen()
    cases = _submissions(folder, out, server.getsockname()[1])
    for student, (content, _, _) in cases.items():
        path = folder / (student if student.endswith("IPYNB") else f"{student}.ipynb")
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content if isinstance(content, str) else dumps(content), encoding="utf-8")
    (folder / ".hidden.ipynb").write_text(dumps(_solution()), encoding="utf-8")
    (folder / "x.ipynb.json").write_text(dumps(_solution()), encoding="utf-8")
    os.mkfifo(folder / "fifo.ipynb")
    os.symlink("/dev/zero", folder / "zero.ipynb")
    (folder / "folder.ipynb").mkdir()
    before = _digests([*folder.iterdir(), *COURSE_FILES])
    os.environ["NNKIT_TEST_SECRET"] = SECRET
    console = io.StringIO()
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(console):
            code = main(["--solutions", str(ROOT / "solutions"), "grade", "01", str(folder),
                         "--out", str(out), "--jobs", "2", "--cell-timeout", str(CELL_TIMEOUT),
                         "--wall-timeout", "120",
                         "--memory-mb", str(MEMORY_MB), "--cpu-seconds", "60"])
    finally:
        del os.environ["NNKIT_TEST_SECRET"]
        server.close()
    seconds = time.perf_counter() - start
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    return {"cases": cases, "rows": rows, "out": out, "folder": folder, "code": code,
            "console": console.getvalue(), "received": received, "before": before,
            "after": _digests([*folder.iterdir(), *COURSE_FILES]),
            "seconds": seconds}


def _row(graded, student):
    """The gradebook row of the submission ``student`` (as named in :func:`_submissions`)."""
    name = student.removesuffix(".IPYNB")
    return graded["rows"]["'" + name if name.startswith("=") else name]


@pytest.mark.parametrize("student", [s for s in STUDENTS if s not in ATTACKS])
def test_each_submission_gets_the_score_and_status_it_deserves(graded, student):
    _, total, status = graded["cases"][student]
    row = _row(graded, student)
    assert int(row["max"]) == FULL
    assert int(row["total"]) == total, f"{student}: {row}"
    assert re.fullmatch(status, row["status"].lstrip("'")), f"{student}: status {row['status']!r}"


@pytest.mark.parametrize("attack", ATTACKS)
def test_an_attack_earns_no_more_than_the_blank(graded, attack):
    row = _row(graded, attack)
    assert int(row["total"]) == 0, f"{attack}: {row}"
    assert int(graded["rows"]["correct"]["total"]) == FULL and int(graded["rows"]["blank"]["total"]) == 0


def test_the_grading_run_itself_is_unharmed(graded):
    """Nothing outside the sandbox changed: the grader's or classmates' files, no process, no connection."""
    assert graded["code"] == 0
    assert graded["before"] == graded["after"]
    assert graded["received"] == []
    assert not any(MARK in " ".join(p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"]))
    for folder in ("/tmp", "/var/tmp", "/dev/shm", os.path.expanduser("~"), graded["out"], graded["folder"]):
        assert not (Path(folder) / MARK).exists()
    print(f"graded {len(graded['rows'])} submissions in {graded['seconds']:.1f} s")


def test_feedback_tells_the_student_what_went_wrong_and_nothing_secret(graded):
    out = graded["out"]
    feedback = {path.stem: path.read_text(encoding="utf-8") for path in (out / "feedback").iterdir()}
    full = sum(points(cell) for cell in tagged_cells(read(SOLUTION), "check").values())
    assert feedback["correct"].startswith(f"correct: {full} / {full} points\nstatus: ok\n")
    assert "✓ check:affine  1 / 1" in feedback["correct"]
    assert "exercise 'sigmoid' is not implemented yet" in feedback["blank"]
    assert "values off: largest error" in feedback["partly_wrong"]
    assert "ValueError: no idea" in feedback["exception"]
    assert "timed out: your code ran past the time limit" in feedback["infinite_loop"]
    assert "not run: your code's process died (exit code 3) in an earlier cell" in feedback["os_exit"]
    assert "not graded: the file is not a Jupyter notebook" in feedback["not_a_notebook"]
    spy = feedback["attack_read_the_environment_and_hidden_tests"]
    # the attack ran and its message came back: it shows the sandbox's own environment ...
    assert "ValueError: {'PATH': '/usr/bin:/bin', 'HOME': '/tmp'" in spy
    assert "'OPENBLAS_NUM_THREADS': '1'" in spy and os.environ["PATH"] not in spy
    for text in feedback.values():          # ... and no feedback holds a secret
        assert SECRET not in text and HIDDEN not in text and "HIDDEN TESTS" not in text
    assert not (out / "logs" / "correct.log").read_text(encoding="utf-8").count(SECRET)


def test_every_skipped_file_is_named_and_names_are_escaped(graded):
    console, out = graded["console"], graded["out"]
    skipped = (out / "skipped.txt").read_text(encoding="utf-8")
    for name, why in SKIPPED.items():
        assert f"skipped {name}: {why}" in console
        assert f"{name!r}: {why}" in skipped
    assert "'new\\nline'" in console and "new\nline" not in console
    assert "'=1+1" in graded["rows"] and "=1+1" not in graded["rows"]
    assert "ADA" in graded["rows"]


def test_the_gradebook_is_written_by_the_grader_alone(graded):
    rows, cases = graded["rows"], graded["cases"]
    assert len(rows) == len(cases)
    checks = list(tagged_cells(read(SOLUTION), "check"))
    assert list(next(iter(rows.values()))) == ["student", *checks, "total", "max", "status"]
    for row in rows.values():
        assert int(row["total"]) == sum(int(row[name]) for name in checks)


def test_a_whole_run_over_the_wall_clock_limit_is_killed(sandboxed, tmp_path):
    nb = _prepend(_solution(), "sigmoid", "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                          "while True:\n    pass")
    (tmp_path / "stubborn.ipynb").write_text(dumps(nb), encoding="utf-8")
    limits = Limits(cell_timeout=60, wall_timeout=10, memory_mb=1024, cpu_seconds=60)
    start = time.perf_counter()
    [grade], _ = grade_folder(SOLUTION, tmp_path, jobs=1, limits=limits, progress=False)
    assert time.perf_counter() - start < 30
    assert grade.status.startswith("killed: over the 10 s limit for a submission")
    assert grade.total == 1  # check:affine ran before the stubborn cell


def test_without_a_sandbox_the_grader_refuses_unless_the_risk_is_accepted(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sandbox, "BWRAP", "/nonexistent/bwrap")
    sandbox.sandbox_problem.cache_clear()
    try:
        (tmp_path / "student.ipynb").write_text(dumps(_solution()), encoding="utf-8")
        with pytest.raises(GradingError, match="--unsafe-no-sandbox"):
            grade_folder(SOLUTION, tmp_path, progress=False)
        args = ["--solutions", str(ROOT / "solutions"), "grade", "01", str(tmp_path),
                "--out", str(tmp_path / "o")]
        assert main(args) == 2
        assert "No sandbox for the students' code" in capsys.readouterr().err
        assert main([*args, "--unsafe-no-sandbox"]) == 0
        row = next(csv.DictReader(open(tmp_path / "o" / "gradebook.csv", encoding="utf-8")))
        assert (row["student"], row["total"], row["status"]) == ("student", str(FULL), "ok")
    finally:
        sandbox.sandbox_problem.cache_clear()
