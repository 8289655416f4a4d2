"""The Classify tab's right side: the selected picture with its top-k bars and Grad-CAM
options, its feature maps (a click chooses a channel: "What does this channel look for?"
asks the window's feature visualisation view about it), and the buttons that hand the
picture to Dream or Style.

The full-size picture, its heat map and the feature-map grid are made by :func:`explain`
on the panel's own worker (``explain_runner``); while one is being made, only the latest
request waits (the selection or an option may change many times meanwhile).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from cnnstudio.core import images
from cnnstudio.core.classify import params as classify
from cnnstudio.gui.tabs.base import ChannelRef
from cnnstudio.gui.widgets.image_view import ImageView
from cnnstudio.gui.widgets.tile_view import TileView
from cnnstudio.gui.workers import JobRunner

log = logging.getLogger(__name__)

AUTO_LAYER = ""  # "last convolution, found automatically"
_METHODS = (("gradcam", "Grad-CAM"), ("hirescam", "HiResCAM (flatten heads)"))
_FEATURE_PAGE = 1
_MAX_MAPS = 64  # feature maps shown, one tile each
_MAP_PAD = 1  # pixels between the tiles (explain.tile_channels)


class DetailsPanel(QWidget):
    """An "Image" page (the picture or its heat map, the top-k bars, the Grad-CAM layer,
    method and class) and a "Feature maps" page, over the send buttons."""

    #: a line for the status bar (what the heat map shows, why it could not be made)
    status = Signal(str)
    #: "What does this channel look for?": a ChannelRef for the visualisation view
    show_channels = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.explain_runner = JobRunner("Grad-CAM", self)
        self._result: Any = None  # the selected ClassifyResult
        self._classifier: Any = None  # the Classifier that made it
        self._model_key: tuple[str, str] = ("", "")  # its (model, weights) in the form
        self._pending: tuple | None = None  # the latest request while one runs
        self.image: np.ndarray | None = None  # the selected picture, full size (uint8 RGB)
        self.overlay: np.ndarray | None = None  # its heat map over it
        self.detail_tabs = QTabWidget(objectName="classifyDetailTabs")
        self.detail_tabs.addTab(self._build_image_page(), "Image")
        self.detail_tabs.addTab(self._build_feature_page(), "Feature maps")
        self.dream_button = QPushButton("Dream with this image", objectName="classifyDreamButton")
        self.dream_button.setToolTip("Open the selected picture in the Dream tab")
        self.content_button = QPushButton("Use as content", objectName="classifyContentButton")
        self.content_button.setToolTip("Use the selected picture as the Style tab's content")
        self.style_button = QPushButton("Use as style", objectName="classifyStyleButton")
        self.style_button.setToolTip("Add the selected picture to the Style tab's styles")
        send_row = QGridLayout()  # two rows: the panel stays narrow beside the table
        send_row.addWidget(self.dream_button, 0, 0, 1, 2)
        send_row.addWidget(self.content_button, 1, 0)
        send_row.addWidget(self.style_button, 1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.detail_tabs, 1)
        layout.addLayout(send_row)
        self._connect()

    def _connect(self) -> None:
        self.gradcam_toggle.toggled.connect(self._on_gradcam_toggled)
        for combo in (self.cam_layer, self.cam_method, self.cam_class):
            combo.currentIndexChanged.connect(self._on_cam_option_changed)
        self.feature_layer.currentIndexChanged.connect(self._request_explain)
        self.feature_view.tile_clicked.connect(self._on_channel_clicked)
        self.look_button.clicked.connect(self.ask_what_channel_looks_for)
        self.detail_tabs.currentChanged.connect(self._request_explain)
        self.explain_runner.finished.connect(self._on_explained)
        self.explain_runner.failed.connect(self._on_explain_failed)
        self.explain_runner.done.connect(self._on_explain_done)

    def _build_image_page(self) -> QWidget:
        self.image_view = ImageView(placeholder="Select a result to see it here")
        self.image_view.setObjectName("classifyImage")
        self.image_view.setToolTip(
            "The selected picture (or its heat map); drop a picture here to classify it"
        )
        self.gradcam_toggle = QCheckBox("Grad-CAM heat map", objectName="classifyGradCam")
        self.gradcam_toggle.setToolTip(
            "Show where the model looked: the parts of the picture that raised the class"
        )
        self.cam_layer = QComboBox(objectName="classifyCamLayer")
        self.cam_layer.setToolTip(
            "The layer whose activations make the heat map (deeper: coarser, more semantic)"
        )
        self.cam_method = QComboBox(objectName="classifyCamMethod")
        self.cam_method.setToolTip(
            "Grad-CAM averages the gradients of each channel; HiResCAM keeps them per "
            "position (better for models that flatten instead of pooling)"
        )
        for value, text in _METHODS:
            self.cam_method.addItem(text, value)
        self.cam_class = QComboBox(objectName="classifyCamClass")
        self.cam_class.setToolTip("The class whose evidence the heat map shows")
        for combo in (self.cam_layer, self.cam_method, self.cam_class):
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(10)
        cam_form = QFormLayout()
        cam_form.addRow(self.gradcam_toggle)
        cam_form.addRow("Layer", self.cam_layer)
        cam_form.addRow("Method", self.cam_method)
        cam_form.addRow("Class", self.cam_class)
        self.top_list = QWidget(objectName="classifyTopList")
        self.top_list_layout = QFormLayout(self.top_list)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(self.image_view, 1)
        layout.addWidget(self.top_list)
        layout.addLayout(cam_form)
        return page

    def _build_feature_page(self) -> QWidget:
        self.feature_layer = QComboBox(objectName="classifyFeatureLayer")
        self.feature_layer.setToolTip("The layer whose channels are shown, one tile each")
        self.feature_view = TileView(placeholder="Pick a layer to see its channels")
        self.feature_view.setObjectName("classifyFeatureMaps")
        self.feature_view.setToolTip(
            "What each channel of the layer sees in the picture; click one to choose it"
        )
        self.feature_info = QLabel("", objectName="classifyFeatureInfo")
        self.look_button = QPushButton(_LOOK_LAYER, objectName="classifyLookInside")
        self.look_button.setEnabled(False)  # until a model's layers are listed
        self.look_button.setToolTip(
            "What does this channel look for? Feature visualisation: an image made to "
            "excite the channel clicked in the maps (none clicked: the layer's first "
            "channels), next to the pictures of a folder that excite it most"
        )
        self._maps_shown: tuple[str, str] | None = None  # (file, layer) of the maps shown
        self._map_caption = ""
        self._chosen_map: tuple[str, int] | None = None  # (layer, channel) clicked
        page = QWidget()
        layout = QVBoxLayout(page)
        row = QHBoxLayout()
        row.addWidget(QLabel("Layer"))
        row.addWidget(self.feature_layer, 1)
        layout.addLayout(row)
        layout.addWidget(self.feature_view, 1)
        layout.addWidget(self.feature_info)
        layout.addWidget(self.look_button)
        return page

    def send_buttons(self) -> tuple[QPushButton, QPushButton, QPushButton]:
        return self.dream_button, self.content_button, self.style_button

    def show_result(self, result: Any | None) -> None:
        """Show ``result`` (None: nothing): its thumbnail and top-k bars at once, the full
        picture (and heat map, feature maps) when they have been made."""
        self._result = result
        self.image = None
        self.overlay = None
        while self.top_list_layout.rowCount():
            self.top_list_layout.removeRow(0)
        self.cam_class.blockSignals(True)
        self.cam_class.clear()
        if result is not None and result.ok:
            for p in result.predictions:
                self.cam_class.addItem(f"{p.label} ({p.probability:.1%})", p.index)
                bar = QProgressBar(minimum=0, maximum=1000, value=int(round(p.probability * 1000)))
                bar.setFormat(f"{p.probability:.1%}")
                bar.setObjectName("classifyTopBar")
                self.top_list_layout.addRow(p.label, bar)
        elif result is not None:
            self.top_list_layout.addRow(QLabel(result.error, wordWrap=True))
        self.cam_class.blockSignals(False)
        self.show_feature_maps(None)  # another picture's maps (and caption) are not this one's
        self._request_explain()

    def shown_picture(self) -> np.ndarray | None:
        """The picture Save writes: the heat map when it is on, else the plain picture."""
        return self.overlay if self.gradcam_toggle.isChecked() else self.image

    def _show_picture(self) -> None:
        if self.image is None:
            result = self._result
            self.image_view.set_image(
                result.thumbnail if result is not None and result.ok else None
            )
            return
        showing_cam = self.gradcam_toggle.isChecked() and self.overlay is not None
        self.image_view.set_image(self.overlay if showing_cam else self.image)

    def set_classifier(self, classifier: Any | None, key: tuple[str, str] = ("", "")) -> None:
        """Explain with ``classifier`` from now on (``key``: its (model, weights) as the
        form names them); its model's layers fill the Grad-CAM and feature-map pickers."""
        self._classifier = classifier
        self._model_key = key
        layers = classifier.conv_layers() if classifier is not None else []
        try:
            auto = classifier.last_conv_layer() if classifier is not None else ""
        except Exception as error:  # a model without convolutions: no Grad-CAM
            log.info("no Grad-CAM layer: %s", error)
            auto = ""
        for combo in (self.cam_layer, self.feature_layer):
            combo.blockSignals(True)
            combo.clear()
        self.cam_layer.addItem(f"Automatic ({auto or 'none'})", AUTO_LAYER)
        for layer in layers:
            self.cam_layer.addItem(layer, layer)
            self.feature_layer.addItem(layer, layer)
        if layers:
            # the first layer after the input shows recognisable channels; start there
            self.feature_layer.setCurrentIndex(0)
        for combo in (self.cam_layer, self.feature_layer):
            combo.blockSignals(False)
        self.overlay = None
        self.show_feature_maps(None)  # made by the previous model

    def _on_gradcam_toggled(self, checked: bool) -> None:
        self._show_picture()  # the overlay or the plain picture, at once
        if checked and self.overlay is None:
            self._request_explain()

    def _on_cam_option_changed(self, *_args) -> None:
        self.overlay = None  # made for other options
        if self.gradcam_toggle.isChecked():
            self._request_explain()

    def _explain_request(self) -> tuple | None:
        """The arguments of :func:`explain` for the selection, or None (nothing to make)."""
        result = self._result
        if result is None or not result.ok or self._classifier is None:
            return None
        want_maps = (
            self.detail_tabs.currentIndex() == _FEATURE_PAGE and self.feature_layer.count() > 0
        )
        return (
            self._classifier,
            result.file,
            self.gradcam_toggle.isChecked(),
            self.cam_layer.currentData() or None,
            self.cam_method.currentData() or "gradcam",
            self.cam_class.currentData(),
            self.feature_layer.currentData() if want_maps else None,
        )

    def _request_explain(self, *_args) -> None:
        request = self._explain_request()
        if request is None:
            self._show_picture()
            return
        layer = request[-1]
        if layer and self._maps_shown != (request[1], layer):
            # the caption never describes maps that are not the ones shown
            self.show_feature_maps(None, f"{layer}: making the feature maps...")
        if self.explain_runner.running:
            self._pending = request  # latest wins
            return
        self.explain_runner.run_function(explain, *request)

    def _on_explained(self, output: object) -> None:
        image, overlay, maps, info = output
        if self._result is None or self._result.file != info["file"]:
            return  # the selection moved on; a newer request follows
        self.image = image
        self.overlay = overlay
        self._show_picture()
        if maps is not None:
            shown = (info["file"], info["layer"])
            self.show_feature_maps(maps, info.get("maps", ""), shown, info.get("count", 0))
        if overlay is not None:
            self.status.emit(info.get("cam", ""))

    def _on_explain_failed(self, message: str) -> None:
        self.status.emit(message)
        self.gradcam_toggle.setToolTip(message)

    def _on_explain_done(self) -> None:
        if self._pending is not None:
            request, self._pending = self._pending, None
            self.explain_runner.run_function(explain, *request)

    def shutdown(self) -> None:
        """Forget waiting requests and wait for the one running."""
        self._pending = None
        self.explain_runner.shutdown()

    def show_feature_maps(
        self,
        grid: np.ndarray | None,
        info: str = "",
        shown: tuple[str, str] | None = None,
        count: int = 0,
    ) -> None:
        """Show a feature-map grid of ``count`` channels with its caption (None: none,
        and no caption but ``info``); ``shown`` is the (file, layer) the grid belongs to.
        A channel chosen in the layer's maps stays chosen for the next pictures."""
        self.feature_view.set_image(grid)
        self.feature_view.set_tiles(map_boxes(grid, count) if grid is not None else [])
        self.feature_view.set_labels([str(i) for i in range(count)])
        self._map_caption = info
        self._maps_shown = shown if grid is not None else None
        self.feature_view.set_chosen(self.chosen_channel())
        self._show_chosen_channel()

    def chosen_channel(self) -> int | None:
        """The channel clicked in the maps of the layer picked now, or None."""
        chosen = self._chosen_map
        if chosen is None or chosen[0] != self.feature_layer.currentData():
            return None
        return chosen[1]

    def _on_channel_clicked(self, index: int) -> None:
        self._chosen_map = (self.feature_layer.currentData(), index)
        self._show_chosen_channel()

    def _show_chosen_channel(self) -> None:
        chosen = self.chosen_channel()
        caption = self._map_caption
        if chosen is not None:
            caption += f" - channel {chosen} chosen"
        self.feature_info.setText(caption)
        self.look_button.setText(_LOOK_LAYER if chosen is None else _LOOK_CHANNEL.format(chosen))
        self.look_button.setEnabled(self.feature_layer.count() > 0)

    def ask_what_channel_looks_for(self) -> None:
        """The visualisation view for the feature maps' layer (and the channel chosen)."""
        layer = self.feature_layer.currentData()
        model, weights = self._model_key
        if not layer or not model or self._classifier is None:
            self.status.emit("Classify a picture first: its model's layers are listed then")
            return
        ref = ChannelRef(model, layer, self.chosen_channel(), weights, self._classifier.name)
        self.show_channels.emit(ref)


# short: the panel stays narrow beside the table (the tooltip says the rest)
_LOOK_LAYER = "What do they look for?"
_LOOK_CHANNEL = "What does #{} look for?"


def map_boxes(grid: np.ndarray, count: int) -> list[tuple[int, int, int, int]]:
    """The tiles of ``count`` feature maps in a grid made by ``explain.tile_channels``
    (square-ish, one pixel apart), as (x, y, width, height)."""
    if count < 1:
        return []
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    height = (grid.shape[0] - _MAP_PAD) // rows - _MAP_PAD
    width = (grid.shape[1] - _MAP_PAD) // columns - _MAP_PAD
    return [
        (
            _MAP_PAD + (i % columns) * (width + _MAP_PAD),
            _MAP_PAD + (i // columns) * (height + _MAP_PAD),
            width,
            height,
        )
        for i in range(count)
    ]


def explain(
    classifier: Any,
    path: str,
    want_cam: bool,
    layer: str | None,
    method: str,
    class_index: int | None,
    feature_layer: str | None,
) -> tuple:
    """Worker thread: the selected picture, its Grad-CAM overlay and a feature-map grid."""
    image = images.load_image(path, max_side=classify.WORKING_SIDE)
    overlay = None
    info: dict[str, Any] = {"file": path}
    if want_cam:
        cam = classifier.gradcam(image, class_index=class_index, layer=layer, method=method)
        overlay = cam.overlay(image)
        name = classifier.name_of(cam.class_index)
        info["cam"] = f"Heat map of '{name}' at layer {cam.layer}"
    maps = None
    if feature_layer:
        activations = classifier.feature_maps(image, feature_layer)
        from cnnstudio.core.classify import explain  # imports TensorFlow: in the worker

        maps = explain.tile_channels(activations, max_channels=_MAX_MAPS, cell=64)
        info["layer"] = feature_layer
        shown = min(_MAX_MAPS, activations.shape[-1])
        info["count"] = shown
        info["maps"] = (
            f"{feature_layer}: {activations.shape[1]}x{activations.shape[0]}, "
            f"{shown} of {activations.shape[-1]} channels"
        )
    return image, overlay, maps, info
