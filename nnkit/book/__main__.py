"""``python -m nnkit.book``: build the course book (see ``nnkit/book/__init__.py``)."""

import argparse
import pathlib
import time

from nnkit.book import __doc__ as DOC
from nnkit.book import build


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m nnkit.book", description=DOC.split("\n\n")[0])
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("_build/book"),
                        help="folder to write the book into (replaced)")
    parser.add_argument("--root", type=pathlib.Path, default=pathlib.Path("."),
                        help="the course folder holding notebooks/, exercises/ and README.md")
    parser.add_argument("--verbose", action="store_true", help="show Sphinx's progress")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    pages = build(args.out, args.root, quiet=not args.verbose)
    print(f"Wrote {len(pages)} pages to {args.out}/ in {time.perf_counter() - start:.0f} s: "
          f"open {args.out / 'index.html'} in a browser.")


if __name__ == "__main__":
    main()
