"""Several machines training one model: who the workers are, which one this is, and how
to tell which of them stopped answering.

The engine is TensorFlow's own ``tf.distribute.MultiWorkerMirroredStrategy``
(:mod:`.multiworker`); this module only describes the cluster, in TensorFlow's terms
(``TF_CONFIG``: a ``cluster`` of ``worker`` -- and optionally ``chief`` -- addresses and
this process's ``task``). The chief (the first worker, or the ``chief`` task) alone writes
the run folder; every worker runs the same command with its own index.
Imports no TensorFlow.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cnnstudio.core.errors import InputError, StudioError

#: seconds without a heartbeat from a worker before the others stop
DEFAULT_WORKER_TIMEOUT = 30.0
#: seconds every worker waits for the others to start
JOIN_TIMEOUT = 300.0
_ADDRESS = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]{1,253}):(\d{1,5})$")
_TASK_IN_ERROR = re.compile(r"/job:(chief|worker)/replica:\d+/task:(\d+)")


class ClusterError(StudioError, RuntimeError):
    """A worker of a multi-worker run did not start, stopped answering or failed."""


@dataclass(frozen=True)
class Cluster:
    """The workers of a run, chief first, as (job, "host:port"), and this task's index."""

    tasks: tuple[tuple[str, str], ...]
    index: int
    timeout: float = DEFAULT_WORKER_TIMEOUT
    join_timeout: float = JOIN_TIMEOUT

    @property
    def size(self) -> int:
        return len(self.tasks)

    @property
    def is_chief(self) -> bool:
        return self.index == 0

    def task(self, index: int | None = None) -> tuple[str, int]:
        """TensorFlow's (job, task id) of a worker (this one by default)."""
        job = self.tasks[self.index if index is None else index][0]
        position = self.index if index is None else index
        return job, sum(1 for j, _ in self.tasks[:position] if j == job)

    def describe(self, index: int) -> str:
        """``worker 1 (10.0.0.2:5001)``; the chief says so."""
        job, address = self.tasks[index]
        label = "the chief" if job == "chief" else f"worker {index}"
        if index == 0 and job != "chief":
            label += " (the chief)"
        return f"{label} at {address}"

    def tf_config(self) -> dict:
        """This process's ``TF_CONFIG``."""
        jobs: dict[str, list[str]] = {}
        for job, address in self.tasks:
            jobs.setdefault(job, []).append(address)
        job, task_id = self.task()
        return {"cluster": jobs, "task": {"type": job, "index": task_id}}

    def index_of(self, job: str, task_id: int) -> int | None:
        """Position in :attr:`tasks` of TensorFlow's (job, task id)."""
        for position in range(self.size):
            if self.task(position) == (job, task_id):
                return position
        return None


def check_address(address: str, param: str = "cluster") -> str:
    text = address.strip()
    match = _ADDRESS.match(text)
    if not match or not 0 < int(match.group(2)) < 65536:
        raise InputError(
            f"'{text[:80]}' is not a worker address: write HOST:PORT, e.g. 10.0.0.2:5001",
            param=param,
        )
    return text


def parse_cluster(text: str, index: int, *, timeout: float = DEFAULT_WORKER_TIMEOUT) -> Cluster:
    """The cluster ``HOST:PORT,HOST:PORT,...`` with this worker at ``index`` (0: the chief)."""
    addresses = [check_address(part) for part in text.split(",") if part.strip()]
    if len(addresses) < 2:
        raise InputError(
            "a cluster needs at least two workers, HOST:PORT,HOST:PORT", param="cluster"
        )
    if len(set(addresses)) != len(addresses):
        raise InputError("the cluster names a worker address twice", param="cluster")
    if not 0 <= index < len(addresses):
        raise InputError(
            f"the task index must be between 0 and {len(addresses) - 1}, not {index}",
            param="task_index",
        )
    return Cluster(tuple(("worker", a) for a in addresses), index, _timeout(timeout))


def _timeout(value: float) -> float:
    if not 1.0 <= value <= 24 * 3600:
        raise InputError(
            f"the worker timeout must be between 1 s and a day, not {value:g} s",
            param="worker_timeout",
        )
    return float(value)


def cluster_from_tf_config(text: str, *, timeout: float = DEFAULT_WORKER_TIMEOUT) -> Cluster:
    """The cluster of a ``TF_CONFIG`` value (``chief`` and ``worker`` jobs only)."""
    try:
        config = json.loads(text)
        jobs, task = config["cluster"], config["task"]
        kind, task_id = str(task["type"]), int(task["index"])
        if not isinstance(jobs, dict) or set(jobs) - {"chief", "worker"}:
            raise ValueError("only chief and worker jobs can train together")
        tasks = [("chief", check_address(str(a))) for a in jobs.get("chief", [])[:1]]
        tasks += [("worker", check_address(str(a))) for a in jobs.get("worker", [])]
    except (ValueError, KeyError, TypeError, InputError) as error:
        raise InputError(f"TF_CONFIG is not a usable cluster description ({error})") from None
    cluster = Cluster(tuple(tasks), 0, _timeout(timeout))
    position = cluster.index_of(kind, task_id)
    if position is None:
        raise InputError(f"TF_CONFIG names task {kind} {task_id}, which its cluster does not have")
    return Cluster(cluster.tasks, position, cluster.timeout)


def find_cluster(
    cluster: str | None,
    task_index: int | None,
    environ: Mapping[str, str],
    *,
    timeout: float = DEFAULT_WORKER_TIMEOUT,
) -> Cluster | None:
    """The cluster this process belongs to: from ``cluster``/``task_index`` (the CLI's
    flags), else from ``TF_CONFIG`` in ``environ``; None for a run on this machine alone."""
    if cluster:
        if task_index is None:
            raise InputError("a cluster needs this worker's task index", param="task_index")
        return parse_cluster(cluster, task_index, timeout=timeout)
    if task_index is not None:
        raise InputError("a task index needs the cluster's worker addresses", param="cluster")
    if environ.get("TF_CONFIG"):
        found = cluster_from_tf_config(environ["TF_CONFIG"], timeout=timeout)
        return found if found.size > 1 else None
    return None


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def answers(address: str, timeout: float = 2.0) -> bool:
    """Does something accept connections at ``address``? (a worker's TensorFlow server)"""
    try:
        with socket.create_connection(_split(address), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_workers(
    cluster: Cluster,
    on_waiting: Callable[[list[int]], None],
    *,
    poll_seconds: float = 0.5,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """The chief waits here, interruptibly, until every other worker's server answers
    (TensorFlow's own wait inside the strategy cannot be interrupted and never times
    out on the chief). ``on_waiting(missing)`` is told whom it waits for, once per
    change. ClusterError naming them after ``cluster.join_timeout`` seconds."""
    deadline = clock() + cluster.join_timeout
    told: list[int] | None = None
    while True:
        missing = [i for i in range(1, cluster.size) if not answers(cluster.tasks[i][1])]
        if not missing:
            return
        if missing != told:
            on_waiting(missing)
            told = missing
        if clock() > deadline:
            names = ", ".join(cluster.describe(i) for i in missing)
            raise ClusterError(
                f"{names} did not start within {cluster.join_timeout:.0f} s; start every "
                "worker with the same command and its own index"
            )
        time.sleep(poll_seconds)


def lost_workers(cluster: Cluster, error_text: str) -> list[int]:
    """The workers a TensorFlow error names as unhealthy, else those that no longer
    answer (this one excluded)."""
    named = []
    if "unhealthy" in error_text or "heartbeat" in error_text:
        for job, task_id in _TASK_IN_ERROR.findall(error_text):
            position = cluster.index_of(job, int(task_id))
            if position is not None and position != cluster.index and position not in named:
                named.append(position)
    if named:
        return named
    return [
        i
        for i in range(cluster.size)
        if i != cluster.index and not answers(cluster.tasks[i][1], 1.0)
    ]


def worker_lost(cluster: Cluster, error: BaseException, epochs_done: int | None) -> ClusterError:
    """A collective that failed, in words: who stopped, and what to do."""
    text = str(error)
    lost = lost_workers(cluster, text)
    if lost:
        reason = ", ".join(cluster.describe(i) for i in lost) + " stopped answering"
    else:
        first = next((line for line in text.splitlines() if line.strip()), type(error).__name__)
        reason = f"the workers lost touch with each other ({first.strip()[:160]})"
    when = "" if epochs_done is None else f" after {epochs_done} finished epoch(s)"
    return ClusterError(
        f"{reason}; training stopped{when}. Start every worker again with the same "
        "command to resume from the last backup",
        lost=[cluster.tasks[i][1] for i in lost],
    )
