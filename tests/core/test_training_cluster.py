"""The cluster description of a multi-worker run: flags, TF_CONFIG, who is the chief,
waiting for the others (bounded and named), and naming a worker that stopped."""

from __future__ import annotations

import json
import socket

import pytest

from cnnstudio.core.errors import InputError
from cnnstudio.core.training.cluster import (
    Cluster,
    ClusterError,
    cluster_from_tf_config,
    find_cluster,
    lost_workers,
    parse_cluster,
    wait_for_workers,
    worker_lost,
)


def test_flags_and_tf_config_describe_the_same_cluster():
    flags = parse_cluster("10.0.0.1:5001, 10.0.0.2:5001", 1)
    assert flags.size == 2 and not flags.is_chief and flags.task() == ("worker", 1)
    assert flags.tf_config() == {
        "cluster": {"worker": ["10.0.0.1:5001", "10.0.0.2:5001"]},
        "task": {"type": "worker", "index": 1},
    }
    assert cluster_from_tf_config(json.dumps(flags.tf_config())) == flags
    assert flags.describe(0) == "worker 0 (the chief) at 10.0.0.1:5001"
    # TF_CONFIG with a chief job: the chief comes first, workers count from 0 again
    with_chief = cluster_from_tf_config(
        json.dumps(
            {
                "cluster": {"chief": ["a:1"], "worker": ["b:2", "c:3"]},
                "task": {"type": "worker", "index": 1},
            }
        )
    )
    assert with_chief.tasks[0] == ("chief", "a:1") and with_chief.index == 2
    assert with_chief.task() == ("worker", 1) and with_chief.describe(0) == "the chief at a:1"
    env = {"TF_CONFIG": json.dumps(flags.tf_config())}
    assert find_cluster(None, None, env) == flags
    assert find_cluster("a:1,b:2", 0, env).tasks[1] == ("worker", "b:2")  # flags win
    assert find_cluster(None, None, {}) is None


@pytest.mark.parametrize(
    ("cluster", "index", "message"),
    [
        ("a:1", 0, "at least two workers"),
        ("a:1,a:1", 0, "twice"),
        ("a:1,b:2", 2, "between 0 and 1"),
        ("a:1,b", 0, "not a worker address"),
        ("a:1,b:70000", 0, "not a worker address"),
        ("a:1,b:2", None, "task index"),
    ],
)
def test_bad_clusters_are_refused_in_one_line(cluster, index, message):
    with pytest.raises(InputError, match=message) as caught:
        find_cluster(cluster, index, {})
    assert "\n" not in str(caught.value) and "--" not in str(caught.value)


def test_bad_tf_config_is_refused():
    for text in ("{", '{"cluster": {"ps": ["a:1"]}, "task": {"type": "ps", "index": 0}}'):
        with pytest.raises(InputError, match="TF_CONFIG is not a usable"):
            cluster_from_tf_config(text)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_chief_waits_for_the_others_within_a_time_limit_and_names_the_missing():
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    try:
        here = f"127.0.0.1:{listening.getsockname()[1]}"
        absent = f"127.0.0.1:{_free_port()}"
        cluster = Cluster(
            (("worker", "127.0.0.1:1"), ("worker", here), ("worker", absent)), 0, 5.0, 0.3
        )
        told: list[list[int]] = []
        with pytest.raises(ClusterError, match=f"worker 2 at {absent} did not start within"):
            wait_for_workers(cluster, told.append, poll_seconds=0.05)
        assert told == [[2]]
        ready = Cluster(cluster.tasks[:2], 0, 5.0, 0.3)
        wait_for_workers(ready, told.append)  # the other one answers: no wait
    finally:
        listening.close()


def test_a_lost_worker_is_named_from_the_error_or_by_asking_the_others():
    cluster = Cluster(
        (("worker", f"127.0.0.1:{_free_port()}"), ("worker", f"127.0.0.1:{_free_port()}")), 0
    )
    heartbeat = (
        "Collective ops is aborted by: Error reported from /job:worker/task:1: The following "
        "tasks are unhealthy (stopped sending heartbeats):\n/job:worker/replica:0/task:1\n"
    )
    assert lost_workers(cluster, heartbeat) == [1]
    assert lost_workers(cluster, "Collective has timed out during execution") == [1]
    error = worker_lost(cluster, RuntimeError(heartbeat), 3)
    assert str(error).startswith(f"worker 1 at {cluster.tasks[1][1]} stopped answering")
    assert "after 3 finished epoch(s)" in str(error) and "\n" not in str(error)
