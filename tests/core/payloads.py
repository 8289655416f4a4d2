"""A .keras file with real code in it, for the tests that check such files never run.

Imported by test modules next to it (pytest puts their folder on ``sys.path``)."""

from __future__ import annotations

from pathlib import Path

MARKER_VARIABLE = "CNNSTUDIO_TEST_MARKER"


def model_with_code(
    monkeypatch,
    folder: Path,
    marker: Path,
    input_shape: tuple[int, ...] = (8, 8, 3),
    name: str = "evil",
) -> Path:
    """``folder/NAME.keras``: a model whose Lambda layer writes "pwned" to the file named
    by ``$CNNSTUDIO_TEST_MARKER`` whenever it runs. The variable is left pointing at
    ``marker`` (for the rest of the test), so any load that ran the code writes it; Keras
    runs the layer once while building the model, and that write goes elsewhere."""
    import keras

    payload = lambda x: (  # noqa: E731  the payload has to be a lambda to be serialised
        __import__("pathlib")
        .Path(__import__("os").environ["CNNSTUDIO_TEST_MARKER"])
        .write_text("pwned"),
        x,
    )[1]
    monkeypatch.setenv(MARKER_VARIABLE, str(folder / f"{name}-build-time-marker"))
    layers = [keras.Input(input_shape), keras.layers.Lambda(payload)]
    if len(input_shape) > 1:
        layers.append(keras.layers.Flatten())
    model = keras.Sequential(layers)
    path = folder / f"{name}.keras"
    model.save(path)
    monkeypatch.setenv(MARKER_VARIABLE, str(marker))
    return path


def run_unsafely(path: Path) -> None:
    """Load ``path`` with safe mode off (never done by the app): proves the payload is real."""
    import keras

    keras.saving.load_model(path, safe_mode=False)
