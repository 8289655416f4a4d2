"""Ctrl+V, pressed for real, in every tab that takes a paste: the window's Paste action is
the one owner of the key, and a pasted picture is exactly what opening the same picture
from a file gives (transparency composited over white)."""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtCore import QMimeData, QUrl
from PySide6.QtGui import QImage, QKeySequence
from PySide6.QtWidgets import QApplication, QLineEdit, QPushButton

from cnnstudio.core import image_saving, images
from cnnstudio.gui.clipboard import qimage_to_array
from cnnstudio.gui.widgets.image_view import ImageView


def rgba_picture(height: int = 30, width: int = 41) -> np.ndarray:
    """Colours under every kind of alpha: opaque, clear, half and graded."""
    y, x = np.mgrid[0:height, 0:width]
    rgba = np.stack([x * 6, y * 8, 255 - x * 3, (x * 255 // (width - 1))], axis=-1)
    rgba[:5, :, 3] = 255  # opaque rows
    rgba[-5:, :, 3] = 0  # clear rows
    return rgba.astype(np.uint8)


def rgba_qimage(rgba: np.ndarray) -> QImage:
    height, width = rgba.shape[:2]
    data = np.ascontiguousarray(rgba, dtype=np.uint8)
    return QImage(data.data, width, height, width * 4, QImage.Format.Format_RGBA8888).copy()


def copy_files(*paths) -> None:
    """What a file manager puts on the clipboard when files are copied."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    QApplication.clipboard().setMimeData(mime)


def test_the_window_alone_owns_the_paste_key(active_window):
    paste = QKeySequence(QKeySequence.StandardKey.Paste)
    owners = [
        action
        for action in active_window.findChildren(type(active_window.paste_action))
        if any(
            key.matches(paste) == QKeySequence.SequenceMatch.ExactMatch
            for key in action.shortcuts()
        )
    ]
    assert owners == [active_window.paste_action]
    from PySide6.QtGui import QShortcut

    assert active_window.findChildren(QShortcut) == []


def test_a_pasted_rgba_picture_equals_the_same_picture_opened_from_a_png(
    tmp_path, active_window, press_paste
):
    rgba = rgba_picture()
    png = tmp_path / "glass.png"
    Image.fromarray(rgba, "RGBA").save(png)
    opened = images.load_image(png)
    assert not np.array_equal(opened, rgba[..., :3])  # the alpha matters here

    assert np.array_equal(qimage_to_array(rgba_qimage(rgba)), opened)
    premultiplied = rgba_qimage(rgba).convertToFormat(QImage.Format.Format_ARGB32)
    assert np.array_equal(qimage_to_array(premultiplied), opened)

    dream = active_window.tab_by_key("dream")
    active_window.tabs.setCurrentWidget(dream)
    QApplication.clipboard().setImage(rgba_qimage(rgba))
    press_paste(dream.findChild(ImageView, "dreamPreview"))
    assert np.array_equal(dream.source_image(), opened)


def test_ctrl_v_in_style_sets_the_content(active_window, press_paste):
    style = active_window.tab_by_key("style")
    active_window.tabs.setCurrentWidget(style)
    picture = np.zeros((20, 30, 3), np.uint8)
    picture[:, :10] = (250, 10, 10)
    QApplication.clipboard().setImage(
        rgba_qimage(np.dstack([picture, np.full((20, 30), 255, np.uint8)]))
    )
    press_paste(style.findChild(QPushButton, "styleRunButton"))
    assert np.array_equal(style.pictures.content, picture)


def test_copied_files_paste_as_if_opened(tmp_path, active_window, press_paste):
    picture = np.full((16, 24, 3), 77, np.uint8)
    first = image_saving.save_image(tmp_path / "first.png", picture)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    dream = active_window.tab_by_key("dream")
    active_window.tabs.setCurrentWidget(dream)
    copy_files(notes, first)
    press_paste(dream.findChild(ImageView, "dreamPreview"))
    assert np.array_equal(dream.source_image(), picture)

    # Train takes a copied dataset folder (or .npz), not a picture
    train = active_window.tab_by_key("train")
    active_window.tabs.setCurrentWidget(train)
    folder = tmp_path / "classes"
    (folder / "a").mkdir(parents=True)
    copy_files(folder)
    press_paste(train.findChild(QPushButton, "trainStartButton"))
    assert train.form.dataset_edit.text() == str(folder)
    messages = []
    train.status.connect(messages.append)
    QApplication.clipboard().setImage(rgba_qimage(rgba_picture()))
    press_paste(train.findChild(QPushButton, "trainStartButton"))
    assert train.form.dataset_edit.text() == str(folder)
    assert messages and "folder" in messages[-1]


def test_ctrl_v_in_a_text_field_pastes_text(active_window, press_paste):
    train = active_window.tab_by_key("train")
    active_window.tabs.setCurrentWidget(train)
    field = train.findChild(QLineEdit, "trainDataset")
    field.clear()
    QApplication.clipboard().setText("cifar10")
    pasted = []
    active_window.paste_action.triggered.connect(lambda: pasted.append(True))
    press_paste(field)
    assert field.text() == "cifar10" and not pasted


def test_an_empty_clipboard_says_so(active_window, press_paste):
    dream = active_window.tab_by_key("dream")
    active_window.tabs.setCurrentWidget(dream)
    QApplication.clipboard().clear()
    press_paste(dream.findChild(ImageView, "dreamPreview"))
    assert active_window.status_label.text() == "The clipboard holds no picture"
    assert dream.source_image() is None
