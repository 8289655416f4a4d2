"""File > Import weights... with a file that is not the official Keras file: installed as
custom weights, said so, and offered in every weights list (never as ImageNet)."""

from __future__ import annotations

from cnnstudio.core import backbones
from cnnstudio.core.weights import find_imagenet_weights


def test_random_weights_are_imported_as_custom_and_offered_as_such(
    qtbot, window, tmp_path, monkeypatch
):
    from cnnstudio.gui.widgets import dialogs

    model = backbones.build_backbone_uncached("mobilenet_v2", "random", input_shape=(32, 32, 3))
    path = tmp_path / "colleague.weights.h5"
    model.save_weights(path)
    shown: list[str] = []
    monkeypatch.setattr(dialogs, "show_info", lambda parent, text, title="": shown.append(text))
    window.ask_weights_file = lambda: str(path)
    classify = window.tab_by_key("classify")
    picker = classify.form.weights
    assert picker.findText("Custom: colleague.weights.h5") < 0
    with qtbot.waitSignal(window._import_runner.done, timeout=120000):
        window.import_weights_action.trigger()
    (text,) = shown
    assert "not the official Keras ImageNet file" in text and "custom weights" in text
    assert "ImageNet (pretrained)" not in text  # it is not offered as ImageNet
    assert find_imagenet_weights(backbones.get_backbone("mobilenet_v2")) is None
    picker.refresh_files()  # done each time the list opens
    index = picker.findText("Custom: colleague.weights.h5")
    assert index >= 0 and picker.itemData(index).endswith("custom/colleague.weights.h5")
    backbones.clear_model_cache()
