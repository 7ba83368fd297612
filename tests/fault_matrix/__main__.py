"""`python -m tests.fault_matrix`: run the whole fault matrix and print it as a table."""

from __future__ import annotations

import argparse
import sys

from tests.fault_matrix import matrix


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fault_matrix", description=__doc__)
    parser.add_argument("--workers", type=int, default=2, help="fake tenants side by side")
    parser.add_argument("--verbose", action="store_true", help="print each round as it ends")
    args = parser.parse_args()
    progress = (lambda line: print(line, file=sys.stderr, flush=True)) if args.verbose else None
    result = matrix.run(args.workers, progress)
    print(matrix.table(result))
    print()
    print(
        f"{len(result.cells)} cells in {result.runs} runs, {result.seconds:.0f} s "
        f"({matrix.machine()})"
    )
    found = matrix.problems(result)
    for line in found:
        print(f"- {line}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
