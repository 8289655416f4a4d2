"""The style transfer loss compiled: targets, the Adam step, L-BFGS's loss and gradient.

One :class:`StyleProgram` per choice of layers (and network): VGG19 cut at the deepest
layer in use, and three ``tf.function`` s with an input signature of unknown height and
width and every weight passed as a tensor, so that new sizes, scales, runs and slider
values never retrace them (:func:`trace_counts` lets the tests check it). The loss inside
is :func:`cnnstudio.core.perceptual.perceptual_loss`, the normalised terms that fast
style training uses too. A video frame's steps (``adam_step_temporal``,
``loss_and_grad_temporal``) add the temporal term of Ruder et al. 2016
(:func:`~cnnstudio.core.perceptual.temporal_loss`); they are traced on their first use.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from cnnstudio.core import backbones, layers
from cnnstudio.core.perceptual import gram_matrix, perceptual_loss, temporal_loss
from cnnstudio.core.style.params import BACKBONE

#: how often each compiled function was traced (tests assert it does not grow)
_TRACES: Counter[str] = Counter()


def trace_counts() -> dict[str, int]:
    """Times each compiled style function has been traced in this process."""
    return dict(_TRACES)


class StyleProgram:
    """VGG19 cut at the deepest layer in use, with the compiled target, Adam and
    loss-and-gradient functions for one choice of layers."""

    def __init__(self, model: Any, content_layers: Sequence[str], style_layers: Sequence[str]):
        self.content_layers = tuple(content_layers)
        self.style_layers = tuple(style_layers)
        unique = list(dict.fromkeys(self.style_layers + self.content_layers))
        self.extractor = layers.layer_outputs_model(model, unique)
        self.extractor.trainable = False
        style_index = [unique.index(n) for n in self.style_layers]
        content_index = [unique.index(n) for n in self.content_layers]
        channels = {n: int(self.extractor.get_layer(n).output.shape[-1]) for n in unique}
        n_content, n_style = len(self.content_layers), len(self.style_layers)

        image_spec = tf.TensorSpec([1, None, None, 3], tf.float32)
        content_specs = [tf.TensorSpec([1, None, None, channels[n]]) for n in content_layers]
        gram_specs = [tf.TensorSpec([channels[n], channels[n]]) for n in style_layers]
        weight_specs = [
            tf.TensorSpec([n_content], tf.float32),  # per content layer
            tf.TensorSpec([n_style], tf.float32),  # per style layer
            tf.TensorSpec([3], tf.float32),  # content, style, total variation
        ]

        def features(image):
            outputs = self.extractor(backbones.preprocess(BACKBONE, image * 255.0), training=False)
            if not isinstance(outputs, (list, tuple)):
                outputs = [outputs]
            # Losses and Grams stay float32 even under a mixed-precision policy.
            outputs = [tf.cast(o, tf.float32) for o in outputs]
            return [outputs[i] for i in content_index], [outputs[i] for i in style_index]

        def loss_terms(image, content_targets, gram_targets, content_w, style_w, loss_w):
            content_feats, style_feats = features(image)
            return perceptual_loss(
                image,
                content_feats,
                style_feats,
                content_targets,
                gram_targets,
                content_w,
                style_w,
                loss_w,
            )

        @tf.function(input_signature=[image_spec])
        def targets(image):
            _TRACES["targets"] += 1
            content_feats, style_feats = features(image)
            return content_feats, [gram_matrix(f)[0] for f in style_feats]

        adam_specs = [
            image_spec,  # Adam first moment
            image_spec,  # Adam second moment
            tf.TensorSpec([5], tf.float32),  # learning rate, beta_1, beta_2, epsilon, t
        ]
        # a video frame's temporal term (Ruder et al. 2016): the previous output warped
        # by the optical flow, the consistency mask, the term's weight
        temporal_specs = [
            image_spec,
            tf.TensorSpec([1, None, None, 1], tf.float32),
            tf.TensorSpec([], tf.float32),
        ]

        def with_temporal(image, args, warped, mask, weight):
            """[total, content, style, tv, temporal]: the still terms and the temporal
            one, which the total includes."""
            terms = loss_terms(image, *args)
            temporal = temporal_loss(image, warped, mask, weight)
            return tf.concat([[terms[0] + temporal], terms[1:], [temporal]], axis=0)

        def adam_update(image, grad, m, v, hp):
            # A functional Adam (Keras 3's update rule) so that its state can change shape
            # between scales without new variables or a retrace.
            lr, beta_1, beta_2, epsilon, t = hp[0], hp[1], hp[2], hp[3], hp[4]
            m = m + (grad - m) * (1.0 - beta_1)
            v = v + (tf.square(grad) - v) * (1.0 - beta_2)
            alpha = lr * tf.sqrt(1.0 - tf.pow(beta_2, t)) / (1.0 - tf.pow(beta_1, t))
            image = tf.clip_by_value(image - alpha * m / (tf.sqrt(v) + epsilon), 0.0, 1.0)
            return image, m, v

        loss_specs = [image_spec, content_specs, gram_specs, *weight_specs]

        @tf.function(input_signature=[*loss_specs, *adam_specs])
        def adam_step(image, content_targets, gram_targets, content_w, style_w, loss_w, m, v, hp):
            _TRACES["adam"] += 1
            with tf.GradientTape() as tape:
                tape.watch(image)
                terms = loss_terms(image, content_targets, gram_targets, content_w, style_w, loss_w)
                total = terms[0]  # sliced inside the tape so the slice is recorded
            grad = tape.gradient(total, image)
            image, m, v = adam_update(image, grad, m, v, hp)
            return image, m, v, terms

        @tf.function(input_signature=[*loss_specs, *adam_specs, *temporal_specs])
        def adam_step_temporal(image, ct, gt, cw, sw, lw, m, v, hp, warped, mask, weight):
            _TRACES["adam_temporal"] += 1
            with tf.GradientTape() as tape:
                tape.watch(image)
                terms = with_temporal(image, (ct, gt, cw, sw, lw), warped, mask, weight)
                total = terms[0]
            grad = tape.gradient(total, image)
            image, m, v = adam_update(image, grad, m, v, hp)
            return image, m, v, terms

        @tf.function(input_signature=loss_specs)
        def loss_and_grad(image, content_targets, gram_targets, content_w, style_w, loss_w):
            _TRACES["lbfgs"] += 1
            with tf.GradientTape() as tape:
                tape.watch(image)
                terms = loss_terms(image, content_targets, gram_targets, content_w, style_w, loss_w)
                total = terms[0]
            return terms, tape.gradient(total, image)

        @tf.function(input_signature=[*loss_specs, *temporal_specs])
        def loss_and_grad_temporal(image, ct, gt, cw, sw, lw, warped, mask, weight):
            _TRACES["lbfgs_temporal"] += 1
            with tf.GradientTape() as tape:
                tape.watch(image)
                terms = with_temporal(image, (ct, gt, cw, sw, lw), warped, mask, weight)
                total = terms[0]
            return terms, tape.gradient(total, image)

        self.targets = targets
        self.adam_step = adam_step
        self.loss_and_grad = loss_and_grad
        self.adam_step_temporal = adam_step_temporal
        self.loss_and_grad_temporal = loss_and_grad_temporal


_PROGRAMS: OrderedDict[tuple, tuple[object, StyleProgram]] = OrderedDict()
_PROGRAM_CACHE_SIZE = 4


def program_for(model: Any, content_layers: Sequence[str], style_layers: Sequence[str]):
    """The compiled program for these layers of ``model``; the last few are kept, so a
    new run with the same layers starts without tracing."""
    key = (id(model), tuple(content_layers), tuple(style_layers))
    cached = _PROGRAMS.get(key)
    if cached is not None and cached[0] is model:
        _PROGRAMS.move_to_end(key)
        return cached[1]
    program = StyleProgram(model, content_layers, style_layers)
    _PROGRAMS[key] = (model, program)  # keep the model alive so its id stays unique
    while len(_PROGRAMS) > _PROGRAM_CACHE_SIZE:
        _PROGRAMS.popitem(last=False)
    return program


def resize(image, height: int, width: int) -> tf.Tensor:
    """A picture in progress (1, h, w, 3) in 0..1 at another size, for the next scale."""
    resized = tf.image.resize(image, (height, width), method="bicubic", antialias=True)
    return tf.clip_by_value(resized, 0.0, 1.0)
