"""One part of the reliability campaign in this process: ``python -m rovercam_benchmarks.reliability
PART WORKDIR [--quick]`` prints the part's figures as one JSON object (the campaign's runner,
:func:`rovercam_benchmarks.reliability.run`, starts one such process per part)."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from rovercam_benchmarks.reliability import PARTS, run_part


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m rovercam_benchmarks.reliability")
    p.add_argument("part", choices=PARTS)
    p.add_argument("workdir", type=Path)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    # whatever the part (or a process it starts) prints goes to stderr: stdout carries the figures
    sys.stdout.flush()
    figures_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    try:
        figures = run_part(args.part, quick=args.quick, workdir=args.workdir)
    finally:
        sys.stdout.flush()
    figures_out.write(json.dumps(figures, default=str) + "\n")
    figures_out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
