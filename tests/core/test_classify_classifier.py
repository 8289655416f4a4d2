"""Classifiers: ImageNet backbones, library models and .keras files, their outputs as
probabilities; unsafe and unusable files. Nothing is downloaded."""

from __future__ import annotations

import numpy as np
import payloads
import pytest

from cnnstudio.core import images, library, model_check
from cnnstudio.core.classify.classifier import load_classifier, to_probabilities
from cnnstudio.core.classify.params import imagenet_class_names, imagenet_synsets
from cnnstudio.core.errors import InputError, UnsafeModelError


def test_imagenet_class_names_are_in_keras_index_order():
    names = imagenet_class_names()
    synsets = imagenet_synsets()
    assert len(names) == len(synsets) == 1000
    assert synsets == sorted(synsets) and len(set(synsets)) == 1000
    assert (synsets[0], names[0]) == ("n01440764", "tench")
    assert names[1] == "goldfish"
    assert (synsets[281], names[281]) == ("n02123045", "tabby")
    assert names[999] == "toilet tissue"
    assert len(set(names)) == 1000  # the two 'crane's and 'maillot's are told apart


def test_the_seed_picks_the_untrained_network():
    """``classify --seed N``: the same seed, the same untrained network; another seed,
    another (no seed: the one every process builds)."""
    from cnnstudio.core import backbones

    backbones.clear_model_cache()
    one = load_classifier("mobilenet_v2", weights="random", seed=1).model
    assert load_classifier("mobilenet_v2", weights="random", seed=1).model is one
    default = load_classifier("mobilenet_v2", weights="random").model
    assert default is not one
    assert not np.array_equal(default.get_weights()[0], one.get_weights()[0])
    backbones.clear_model_cache()


def test_imagenet_backbone_with_random_weights_is_wired_right():
    classifier = load_classifier("mobilenet_v2", weights="random")
    assert classifier.input_size == (224, 224)
    assert classifier.class_names == imagenet_class_names()
    assert classifier.model.outputs[0].shape[-1] == 1000
    assert classifier.untrained and "untrained" in classifier.label

    # MobileNetV2 wants [-1, 1]: white is 1, black is -1, at the model's input size
    white = classifier.prepare(np.full((50, 80, 3), 255, np.uint8))
    black = classifier.prepare(np.zeros((50, 80, 3), np.uint8))
    assert white.shape == (224, 224, 3)
    assert np.allclose(white, 1.0) and np.allclose(black, -1.0)

    image = images.noise_image(120, 90, seed=3)
    predictions = classifier.classify(image, top_k=5)
    assert len(predictions) == 5
    probabilities = [p.probability for p in predictions]
    assert probabilities == sorted(probabilities, reverse=True)
    assert 0.0 < sum(probabilities) <= 1.0 + 1e-6
    names = imagenet_class_names()
    assert all(p.label == names[p.index] for p in predictions)
    direct = np.asarray(classifier.model(classifier.prepare(image)[None], training=False))[0]
    assert np.isclose(direct.sum(), 1.0, atol=1e-4)
    assert predictions[0].index == int(direct.argmax())
    assert np.isclose(predictions[0].probability, direct.max(), rtol=1e-4)

    cam = classifier.gradcam(image, class_index=predictions[1].index)
    assert cam.layer == "out_relu" and cam.heatmap.shape == (7, 7)
    assert cam.class_index == predictions[1].index


def test_unknown_model_names_the_choices():
    with pytest.raises(InputError, match="mobilenet_v2"):
        load_classifier("resnet50")
    with pytest.raises(InputError, match="not found"):
        load_classifier("missing_model.keras")


def test_outputs_become_probabilities():
    logits = np.array([[2.0, -1.0, 0.5]])
    probs = to_probabilities(logits)
    assert np.isclose(probs.sum(), 1.0) and probs.argmax() == 0
    softmax = np.array([[0.2, 0.7, 0.1]])
    assert np.allclose(to_probabilities(softmax), softmax)
    assert np.allclose(to_probabilities(np.array([[0.8]])), [[0.2, 0.8]])
    sigmoid = 1 / (1 + np.exp(-2.5))  # a single logit
    assert np.allclose(to_probabilities(np.array([[2.5]])), [[1 - sigmoid, sigmoid]])


def test_malicious_keras_file_is_refused_and_its_code_never_runs(tmp_path, monkeypatch):

    marker = tmp_path / "marker"
    path = payloads.model_with_code(monkeypatch, tmp_path, marker)
    assert not marker.exists()

    with pytest.raises(UnsafeModelError, match="evil.keras"):
        library.load_model_file(path)
    with pytest.raises(UnsafeModelError):
        load_classifier(str(path))
    # defence in depth: with the file scan disabled, Keras' safe mode still refuses it
    monkeypatch.setattr(model_check, "code_in_config", lambda config: None)
    with pytest.raises(UnsafeModelError):
        library.load_model_file(path)
    assert not marker.exists()

    # the payload is real: an unsafe load (never done by the app) runs it
    payloads.run_unsafely(path)
    assert marker.read_text() == "pwned"


@pytest.mark.parametrize("recipe", ["lenet5", "cifar-cnn", "transfer"])
def test_models_of_the_train_recipes_classify_and_explain(recipe):
    """The Train tab's models, saved the way the trainer saves them, work here."""
    from cnnstudio.core.training import recipes

    kwargs = {"backbone": "mobilenet_v2", "weights": "random"} if recipe == "transfer" else {}
    size = (32, 32)
    model = recipes.build_model(recipe, num_classes=3, input_size=size, **kwargs)
    channels = int(model.inputs[0].shape[-1])
    entry = library.save_to_library(
        model,
        recipe,
        {
            "recipe": recipe,
            "class_names": ["a", "b", "c"],
            "input_size": list(size),
            "channels": channels,
            "preprocessing": recipes.preprocessing_for(recipe, kwargs.get("backbone")),
        },
    )
    classifier = load_classifier(entry)
    image = images.noise_image(50, 40, seed=0)
    predictions = classifier.classify(image, top_k=3)
    assert sorted(p.label for p in predictions) == ["a", "b", "c"]
    layer = classifier.last_conv_layer()
    if recipe == "transfer":
        assert layer.endswith("/out_relu") and classifier.preprocessing == "mobilenet_v2"
    cam = classifier.gradcam(image)
    assert cam.layer == layer and cam.heatmap.ndim == 2
    assert classifier.feature_maps(image, classifier.conv_layers()[0]).ndim == 3


def test_a_model_without_class_scores_is_not_a_classifier(tmp_path):
    import keras

    inputs = keras.Input((16, 16, 3))
    outputs = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    path = tmp_path / "segmenter.keras"
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(InputError, match=r"segmenter\.keras is not a classifier.*16, 16, 4"):
        load_classifier(str(path))


def test_a_grey_library_model_is_a_one_channel_classifier():
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Rescaling(1 / 255.0),
            keras.layers.Conv2D(4, 5, activation="relu", name="c1"),
            keras.layers.MaxPooling2D(name="s1"),
            keras.layers.Conv2D(6, 5, activation="relu", name="c3"),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    entry = library.save_to_library(
        model, "lenet", {"class_names": list("0123456789"), "input_size": [28, 28], "channels": 1}
    )
    classifier = load_classifier("lenet")
    assert entry.name == "lenet"
    assert classifier.channels == 1 and classifier.input_size == (28, 28)
    assert classifier.prepare(images.noise_image(50, 40, seed=1)).shape == (28, 28, 1)
    assert classifier.conv_layers()[-1] == "c3"
