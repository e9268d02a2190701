"""Benchmark seqctl as a user runs it: the real command, a fresh process per stage.

    python bench/run.py [--sizes 10000,100000] [--stages tick-due,status] [--keep DIR]

One JSON line per stage on stdout; a markdown table with the targets on stderr. A command that
fails, or prints numbers that do not add up, stops the run with exit code 1.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from measure import BenchFailure, seqctl_command
from report import Result, emit, markdown_table
from stages import STAGE_NAMES, plan
from workspace import Bench, prepare

DEFAULT_SIZES = "10000,100000"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default=DEFAULT_SIZES, help=f"contacts per run (default {DEFAULT_SIZES})"
    )
    parser.add_argument(
        "--stages",
        default=",".join(STAGE_NAMES),
        help="stages to report (default all); the stages they need also run: "
        + ", ".join(STAGE_NAMES),
    )
    parser.add_argument(
        "--keep", type=Path, help="work in DIR/size-N and keep the files (default: a temp dir)"
    )
    args = parser.parse_args(argv)
    args.sizes = _sizes(parser, args.sizes)
    args.stages = _stages(parser, args.stages)
    return args


def _sizes(parser: argparse.ArgumentParser, text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        parser.error(f"--sizes: not a list of numbers: {text!r}")
    if not sizes or min(sizes) < 1:
        parser.error("--sizes: give at least one size, each 1 or more")
    return sizes


def _stages(parser: argparse.ArgumentParser, text: str) -> set[str]:
    stages = {part.strip() for part in text.split(",") if part.strip()}
    unknown = sorted(stages - set(STAGE_NAMES))
    if unknown or not stages:
        choices = ", ".join(STAGE_NAMES)
        parser.error(f"--stages: unknown {', '.join(unknown)}; choose from {choices}")
    return stages


def run_size(size: int, root: Path, selected: set[str], results: list[Result]) -> None:
    """Every planned stage for one dataset size; only the selected ones are reported."""
    bench = Bench(size=size, root=root, command=tuple(seqctl_command()))
    prepare(bench)
    for stage in plan(selected):
        result = stage.run(bench)
        if result is None:  # a stage that cannot run on this machine (it said why)
            continue
        bench.results[stage.name] = result  # a later stage may compare itself with it
        if stage.name in selected:
            results.append(result)
            emit(result, sys.stdout)


def run_all(args: argparse.Namespace, results: list[Result]) -> None:
    for size in args.sizes:
        if args.keep is not None:
            root = args.keep / f"size-{size}"
            if root.exists() and any(root.iterdir()):
                raise BenchFailure(f"{root} is not empty: a benchmark starts from nothing")
            run_size(size, root, args.stages, results)
            continue
        with tempfile.TemporaryDirectory(prefix=f"seqctl-bench-{size}-") as temp:
            run_size(size, Path(temp), args.stages, results)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    results: list[Result] = []
    try:
        run_all(args, results)
    except BenchFailure as failure:
        sys.stderr.write(markdown_table(results) if results else "")
        sys.stderr.write(f"\nbench failed: {failure}\n")
        return 1
    sys.stderr.write("\n" + markdown_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
