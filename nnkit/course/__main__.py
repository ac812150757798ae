"""Command line: ``python -m nnkit.course build | verify | grade | bench | store`` (``--help`` on each)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .build import FormatError, build
from .grade import GradingError


def _build(args: argparse.Namespace) -> int:
    stale = build(args.solutions, args.exercises, check=args.check)
    for line in stale:
        print(line)
    if args.check and stale:
        print("exercises/ is stale: run `python -m nnkit.course build` and commit the result.")
        return 1
    print(f"updated {len(stale)} exercise notebook(s)." if stale else "exercises/ is up to date.")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from .grade import find_chapter
    from .verify import verify

    paths = [find_chapter(c, args.solutions) for c in args.chapters] or sorted(args.solutions.glob("*.ipynb"))
    failed = 0
    for path in paths:
        problems = verify(path)
        print(f"{path.name}: " + ("every check passes on the solution, fails on the blank and catches "
                                  "every wrong answer" if not problems else f"{len(problems)} problem(s)"))
        for problem in problems:
            print(f"  {problem}")
        failed += bool(problems)
    return 1 if failed else 0


def _limits(args: argparse.Namespace):
    from .sandbox import Limits

    return Limits(cell_timeout=args.cell_timeout, wall_timeout=args.wall_timeout,
                  memory_mb=args.memory_mb, cpu_seconds=args.cpu_seconds)


def _grade(args: argparse.Namespace) -> int:
    from .grade import find_chapter, grade_folder, sandbox_summary, shown, write_reports

    solution = find_chapter(args.chapter, args.solutions)
    grades, skipped = grade_folder(solution, args.submissions, jobs=args.jobs, limits=_limits(args),
                                   unsandboxed=args.unsafe_no_sandbox)
    gradebook = write_reports(grades, args.out, skipped)
    width = max(len(shown(grade.student)) for grade in grades)
    for grade in grades:
        print(f"  {shown(grade.student):<{width}}  {grade.total:>3} / {grade.max_points:<3}  "
              f"{shown(grade.status)}")
    for name, why in skipped:
        print(f"  skipped {shown(name)}: {why}")
    print(f"sandbox: {sandbox_summary(args.unsafe_no_sandbox)}")
    print(f"graded {len(grades)} submission(s) of {solution.stem}"
          + (f", skipped {len(skipped)} other file(s)" if skipped else "")
          + f": see {gradebook}, {args.out / 'feedback'}/ (for students) and {args.out / 'logs'}/ (for you)")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from .grade import benchmark, find_chapter

    benchmark(find_chapter(args.chapter, args.solutions), args.n, jobs=args.jobs, limits=_limits(args),
              unsandboxed=args.unsafe_no_sandbox)
    return 0


def _store(args: argparse.Namespace) -> int:
    from ..notebook import store

    store(args.paths, timeout=args.timeout)
    return 0


def _add_limits(command: argparse.ArgumentParser) -> None:
    from .grade import UNSAFE_OPTION

    command.add_argument("--jobs", type=int, default=None, help="submissions graded at once (default: CPUs)")
    command.add_argument("--cell-timeout", type=float, default=60, help="seconds per cell (default: 60)")
    command.add_argument("--wall-timeout", type=float, default=900,
                         help="seconds per submission in all (default: 900)")
    command.add_argument("--memory-mb", type=int, default=4096,
                         help="address space per process and, where cgroups are writable (root), "
                              "memory of a submission's processes together, MiB (default: 4096)")
    command.add_argument("--cpu-seconds", type=int, default=600,
                         help="CPU-time limit per process, seconds (default: 600)")
    command.add_argument(UNSAFE_OPTION, action="store_true",
                         help="where no sandbox can run (no bubblewrap), grade anyway: the students' code "
                              "then runs as your user and can read and change your files and use the network")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nnkit.course",
                                     description="Build exercises from solutions, verify checks, grade.")
    parser.add_argument("--solutions", type=Path, default=Path("solutions"),
                        help="folder of solution notebooks (default: solutions)")
    commands = parser.add_subparsers(dest="command", required=True)

    command = commands.add_parser("build", help="write exercises/ from solutions/")
    command.add_argument("--exercises", type=Path, default=Path("exercises"),
                         help="folder of generated exercise notebooks (default: exercises)")
    command.add_argument("--check", action="store_true",
                         help="change nothing; exit 1 when exercises/ is stale")
    command.set_defaults(run=_build)

    command = commands.add_parser("verify", help="check that each chapter's checks pass on the solution, "
                                                 "fail on the blank and catch every wrong answer")
    command.add_argument("chapters", nargs="*", help="chapters (e.g. 01); default: all")
    command.set_defaults(run=_verify)

    command = commands.add_parser("grade", help="grade a folder of submitted notebooks")
    command.add_argument("chapter", help="chapter number or notebook name, e.g. 01 or 01_single_neuron")
    command.add_argument("submissions", type=Path, help="folder with one STUDENT.ipynb per student")
    command.add_argument("--out", type=Path, required=True, help="folder for gradebook.csv and feedback/")
    _add_limits(command)
    command.set_defaults(run=_grade)

    command = commands.add_parser("bench", help="grade N synthetic submissions; print submissions per minute")
    command.add_argument("--chapter", default="01", help="chapter to grade (default: 01)")
    command.add_argument("--n", type=int, default=20, help="number of submissions (default: 20)")
    _add_limits(command)
    command.set_defaults(run=_bench)

    command = commands.add_parser("store", help="execute notebooks in place as a student's fresh install "
                                  "runs them (no CuPy, NNKIT_BACKEND unset, BLAS on one thread)")
    command.add_argument("paths", nargs="+", help="notebooks to execute and store, e.g. notebooks/04_*.ipynb")
    command.add_argument("--timeout", type=int, default=600, help="seconds per cell (default: 600)")
    command.set_defaults(run=_store)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (FormatError, GradingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
