"""Training: datasets (tf.data pipelines), recipes (LeNet-5, CIFAR CNN, transfer) and the
trainer (``model.fit`` with event, checkpoint and resume callbacks)."""
