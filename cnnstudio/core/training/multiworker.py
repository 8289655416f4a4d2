"""One worker of a ``tf.distribute.MultiWorkerMirroredStrategy`` run: start the strategy,
agree with the chief on where the run resumes, and two mends Keras 3 needs to train
under it.

- Failure detection: TensorFlow's coordination service, configured here, expects a
  heartbeat from every worker; one that stops sending for ``cluster.timeout`` seconds is
  reported to the others, whose collectives abort with an error that names it
  (:func:`.cluster.worker_lost` words it). Every collective also gives up after
  :func:`collective_timeout` seconds, so no worker waits for ever.
- Resuming: only the chief has the run folder, so it alone reads the backup; the epoch
  it resumes from and, once restored, every variable of the model and optimizer are
  broadcast to the others (:func:`broadcast_from_chief`, :class:`SyncFromChief`).
- Keras 3.15 under this strategy: ``fit`` reduces a whole (images, labels) batch with
  ``strategy.reduce``, which does not take nested values, and reduces scalar metrics
  along an axis they do not have (keras-team/keras#20585). :func:`mend_keras` keeps
  Keras' own code and fixes just these two reductions.

Imports TensorFlow at its top: imported lazily, by :func:`.job.train`, for a cluster.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import keras
import keras.src.backend.tensorflow.trainer as keras_tf_trainer
import numpy as np
import tensorflow as tf
from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
from tensorflow.python.eager import context

from cnnstudio.core.events import Notice
from cnnstudio.core.training.cluster import Cluster, wait_for_workers

#: TensorFlow errors that mean a worker is gone or the collectives were aborted
FAILURES = (
    tf.errors.UnavailableError,
    tf.errors.DeadlineExceededError,
    tf.errors.AbortedError,
    tf.errors.CancelledError,
    tf.errors.InternalError,
)


def collective_timeout(cluster: Cluster) -> float:
    """How long one collective may wait for the other workers: well beyond the heartbeat
    timeout (a dead worker is named by the heartbeat first) and beyond a slow chief's
    end-of-epoch saving."""
    return max(10 * cluster.timeout, 120.0)


def start(cluster: Cluster, on_event: Callable[[object], None]) -> Any:
    """Join the cluster and return its strategy. Every worker calls this at the same
    point of the run (after loading the data, before building the model)."""
    os.environ["TF_CONFIG"] = json.dumps(cluster.tf_config())
    jobs = [job for job in ("chief", "worker") if any(j == job for j, _ in cluster.tasks)]
    leader_job = cluster.tasks[0][0]
    context.context().configure_coordination_service(
        service_type="standalone",
        service_leader=f"/job:{leader_job}/replica:0/task:0",
        coordinated_jobs=[
            coordination_config_pb2.CoordinatedJob(
                name=job, num_tasks=sum(1 for j, _ in cluster.tasks if j == job)
            )
            for job in jobs
        ],
        cluster_register_timeout_in_ms=int(cluster.join_timeout * 1000),
        heartbeat_timeout_in_ms=int(cluster.timeout * 1000),
        shutdown_barrier_timeout_in_ms=10_000,
    )
    if cluster.is_chief:

        def waiting(missing: list[int]) -> None:
            names = ", ".join(cluster.describe(i) for i in missing)
            on_event(Notice(f"waiting for {names} to start"))

        wait_for_workers(cluster, waiting)
    else:
        on_event(Notice(f"joining {cluster.describe(0)} as worker {cluster.index}"))
    options = tf.distribute.experimental.CommunicationOptions(
        timeout_seconds=collective_timeout(cluster)
    )
    strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    on_event(Notice(f"{cluster.size} workers joined; this is {cluster.describe(cluster.index)}"))
    return strategy


def broadcast_from_chief(strategy: Any, arrays: list[np.ndarray]) -> list[np.ndarray]:
    """The chief's values of ``arrays`` on every worker (one all-reduce in which the
    chief's first replica alone contributes; float64 carries every dtype we send
    exactly: float32 weights, int64 step counters, uint32 seed states)."""
    if not arrays:
        return []
    values = [tf.constant(np.asarray(a, np.float64)) for a in arrays]

    @tf.function
    def share(*tensors):
        replica = tf.distribute.get_replica_context()
        first = tf.equal(replica.replica_id_in_sync_group, 0)
        kept = [tf.where(first, t, tf.zeros_like(t)) for t in tensors]
        return replica.all_reduce(tf.distribute.ReduceOp.SUM, kept)

    shared = strategy.run(share, args=tuple(values))
    return [
        np.asarray(strategy.experimental_local_results(s)[0]).astype(np.asarray(a).dtype)
        for s, a in zip(shared, arrays, strict=True)
    ]


def agree_on_epoch(strategy: Any, epoch: int) -> int:
    """The epoch the chief resumes from, on every worker."""
    return int(broadcast_from_chief(strategy, [np.array(epoch, np.int64)])[0])


class SyncFromChief(keras.callbacks.Callback):
    """After the chief restored its backup (the callback before this one), every worker
    takes the chief's weights, optimizer state and random state."""

    def on_train_begin(self, logs=None):
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        variables = list(self.model.variables)
        if optimizer is not None:
            variables += list(optimizer.variables)
        shared = broadcast_from_chief(
            self.model.distribute_strategy, [np.asarray(v) for v in variables]
        )
        for variable, value in zip(variables, shared, strict=True):
            variable.assign(value)


def mend_keras(model: Any) -> None:
    """Fix the two reductions Keras 3.15 gets wrong under MultiWorkerMirroredStrategy
    (see the module's note); nothing else changes."""
    strategy = model.distribute_strategy
    build = model._maybe_symbolic_build

    def symbolic_build(iterator=None, data_batch=None):
        # Keras reduces the first batch across workers only to learn its shapes: this
        # worker's own part of it tells the same, without a nested reduce
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = tf.nest.map_structure(
                    lambda value: (
                        strategy.experimental_local_results(value)[0]
                        if isinstance(value, tf.distribute.DistributedValues)
                        else value
                    ),
                    next(batches),
                )
                break
        return build(data_batch=data_batch)

    model._maybe_symbolic_build = symbolic_build
    if not getattr(keras_tf_trainer.reduce_per_replica, "_mended", False):
        keras_tf_trainer.reduce_per_replica = _mended_reduce(keras_tf_trainer.reduce_per_replica)


def _mended_reduce(reduce_per_replica: Callable) -> Callable:
    def reduce(values, strategy, reduction):
        if reduction in ("auto", "mean") and keras_tf_trainer._collective_all_reduce_multi_worker(
            strategy
        ):
            # the metrics are scalars: the mean over the replicas, not along axis 0
            return tf.nest.map_structure(
                lambda value: strategy.reduce("MEAN", value, axis=None), values
            )
        return reduce_per_replica(values, strategy, reduction)

    reduce._mended = True
    return reduce
