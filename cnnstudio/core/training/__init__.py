"""Training: a recipe (LeNet-5, the VGG-style CIFAR-10 CNN, transfer learning) trained on
MNIST, CIFAR-10, an ``.npz`` file or a class folder, with live events, stop and resume.

- params.py: recipes' defaults, TrainConfig, augmentation switches (no TensorFlow)
- events.py: what a run reports and returns (no TensorFlow)
- runs.py: run folders: settings, history (no TensorFlow)
- lock.py, status.py, checkpoints.py: the folder's lock, status.json with its heartbeat,
  the backup a run resumes from (no TensorFlow)
- monitor.py: every run folder listed, followed live, renamed, deleted (no TensorFlow)
- curves.py: TensorBoard's smoothing, per-batch values, several runs' scalars as CSV
- predictions.py: every prediction of a run's test or validation set, kept in its folder,
  and the pictures of a confusion-matrix cell (no TensorFlow)
- cluster.py: the workers of a multi-machine run (no TensorFlow)
- data_files.py, image_folders.py, datasets.py: data into uint8 arrays (no TensorFlow)
- job.py: train() and resume(), the job front ends drive (no TensorFlow at import)
- trainer.py, recipes.py, pipeline.py, callbacks.py, evaluation.py, multiworker.py: the
  TensorFlow side, imported by job.train() when a run starts; explain_run.py: a finished
  run's cell images with Grad-CAM, a split predicted on request (TensorFlow, on a worker)
"""
