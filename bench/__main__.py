"""``python -m bench [NAME ...]`` runs bench/bench_NAME.py (all of them with no NAME).

Each benchmark prints its ratio against the reference recipe and writes a JSON record to
bench/results/NAME.json so runs can be compared.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

HERE = Path(__file__).parent


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def main(argv: list[str]) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    names = argv or available()
    unknown = [n for n in names if n not in available()]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {available()}", file=sys.stderr)
        return 2
    for name in names:
        print(f"== {name} ==", flush=True)
        importlib.import_module(f"bench.bench_{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
