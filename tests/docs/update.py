"""Rewrite the expected outputs of the documentation's examples from what seqctl prints now.

    .venv/bin/python -m tests.docs.update              # README.md and every page under docs/
    .venv/bin/python -m tests.docs.update docs/x.md    # these pages only

Only the outputs of commands that no longer match are rewritten (a `...` in them is lost, put it
back where output varies); review the result with `git diff`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tests.docs import runner


def main(argv: list[str]) -> int:
    paths = [Path(arg).resolve() for arg in argv] or runner.pages()
    total = 0
    for path in paths:
        changed = runner.update(path)
        total += changed
        if changed:
            print(f"{runner.relative(path)}: {changed} outputs rewritten")
    print(f"{total} outputs rewritten in {len(paths)} pages")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
