"""Small helpers shared by the benchmarks."""

from __future__ import annotations

import json
import platform
import resource
import time
from collections.abc import Callable
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """Wall-clock seconds of one call and its result."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux: ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def record(name: str, data: dict) -> Path:
    """Write bench/results/NAME.json with the machine it ran on."""
    RESULTS.mkdir(exist_ok=True)
    data = {"machine": platform.platform(), "processor": platform.processor(), **data}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2))
    return path
