"""What a desktop image tool is expected to have: Open Recent, a Help menu with a guide and
a shortcuts sheet made from the real keys, a status line that never widens the window,
and status lines that are fresh after a paste, a failed import or a new picture."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication

from cnnstudio.core.errors import InputError
from cnnstudio.core.image_saving import save_image
from cnnstudio.gui import help as help_pages


def picture(value: int = 90) -> np.ndarray:
    y, x = np.mgrid[0:30, 0:50]
    return np.stack([x * 4, y * 5, np.full_like(x, value)], axis=-1).astype(np.uint8)


def test_open_recent_remembers_opens_and_prunes_missing_files(qtbot, window, tmp_path):
    dream = window.tab_by_key("dream")
    window.tabs.setCurrentWidget(dream)
    first = save_image(tmp_path / "first.png", picture(10))
    second = save_image(tmp_path / "second.png", picture(20))
    for path in (first, second, first):
        window.ask_open_image = lambda path=path: str(path)
        window.open_action.trigger()
    assert window.recent_files.paths() == [str(first), str(second)]  # newest first, once

    second.unlink()
    window.fill_recent_menu()
    entries = [a for a in window.recent_menu.actions() if a.data()]
    assert [a.data() for a in entries] == [str(first)]
    assert "second.png no longer exists" in window.status_label.text()
    dream.set_source(picture(99), "other")
    entries[0].trigger()
    assert dream._source_name == "first.png"

    # a saved result goes on the list too, and the list outlives the window
    from cnnstudio.gui.main_window import MainWindow

    dream._run_params = dream.form.params()
    dream._keep_result(picture(50), stopped_at=None)
    out = tmp_path / "made.png"
    dream.ask_save_path = lambda: str(out)
    dream.save_result()
    again = MainWindow(detect_device=False)
    qtbot.addWidget(again)
    assert again.recent_files.paths()[0] == str(out)
    again.close()


def test_shortcut_sheet_lists_every_key_the_window_answers(qtbot, window):
    rows = help_pages.shortcut_rows(window)
    listed = {keys for _, _, keys in rows}
    native = QKeySequence.SequenceFormat.NativeText
    for action in window.findChildren(QAction):
        for key in action.shortcuts():
            assert any(key.toString(native) in keys for keys in listed), action.text()
    assert ("Edit", "Copy picture", QKeySequence("Ctrl+C").toString(native)) in rows
    # made from the actions when it opens: a new key shows up, it cannot drift
    extra = QAction("Frobnicate", window)
    extra.setShortcut(QKeySequence("Ctrl+Shift+F"))
    window.addAction(extra)
    sheet = window.show_shortcuts()
    text = sheet.browser.toPlainText()
    assert "Frobnicate" in text and "Zoom in" in text and "Wheel" in text
    sheet.close()


def test_user_guide_opens_from_help_and_says_what_matters(qtbot, window):
    window.findChild(QAction, "guideAction").trigger()
    guide = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "userGuide")
    text = guide.browser.toPlainText()
    for words in ("Dream", "Style", "Classify", "Train", "offline", "Import weights", "Batch"):
        assert words in text, words
    guide.close()


def test_a_long_status_line_does_not_widen_the_window_or_move_the_panels(qtbot, window):
    window.resize(1100, 700)
    window.show()
    qtbot.waitExposed(window)
    dream = window.tab_by_key("dream")
    window.tabs.setCurrentWidget(dream)

    def widths():
        """The window, the panels, and the smallest width each of them asks for."""
        parts = [window.statusBar(), dream.splitter.widget(0), dream.splitter.widget(1)]
        parts.append(dream.form)
        return (
            window.width(),
            dream.splitter.sizes(),
            [part.minimumSizeHint().width() for part in parts],
        )

    before = widths()
    long_text = "A very long message about " + "a_file_name_without_spaces" * 20
    dream._on_notice(long_text)
    dream.status.emit(long_text)
    dream.form.source_label.setText("x" * 400 + ".png (4000x3000)")
    QApplication.processEvents()
    assert widths() == before
    assert window.status_label.text() == long_text  # all of it, in the tooltip too
    assert window.status_label.toolTip() == long_text
    assert window.status_label.shown_text().endswith("\u2026")


def test_status_lines_are_fresh_after_a_paste_and_a_failed_import(
    qtbot, window, monkeypatch, tmp_path
):
    dream = window.tab_by_key("dream")
    window.tabs.setCurrentWidget(dream)
    dream.status.emit("Opened old.png (10x10)")
    dream.paste_image(picture(30))
    assert window.status_label.text() == "Dreaming on the pasted image (50x30)"

    from cnnstudio.gui.widgets import dialogs

    monkeypatch.setattr(dialogs, "show_error", lambda *args, **kwargs: None)
    window._import_runner.error_details = ""
    window._on_weights_import_failed("bad.h5 is not a weights file.")
    assert window.status_label.text() == (
        "Bad.h5 is not a weights file. The weights in use are unchanged."
    ) or window.status_label.text().endswith("The weights in use are unchanged.")


def test_a_new_picture_clears_the_old_octave_line_curves_and_progress(qtbot, window):
    dream = window.tab_by_key("dream")
    dream.set_source(picture(10), "one.png")
    dream._on_notice("octave 3/5: 400x300 px")
    assert dream.notice_label.text() == "Octave 3/5: 400x300 px"  # a capital, as a sentence
    dream.loss_plot.add_point("loss", 1, 2.0)
    dream.progress.setFormat("Octave 3/5 - step 10/50")
    dream.set_source(picture(20), "two.png")
    assert dream.notice_label.text() == ""
    assert dream.loss_plot.series_names() == []
    assert dream.progress.format() == "Idle"


def test_a_failed_run_does_not_leave_the_last_result_on_show(qtbot, window, monkeypatch):
    dream = window.tab_by_key("dream")
    source = picture(10)
    dream.set_source(source, "photo.png")
    dream._run_params = dream.form.params()
    dream._keep_result(picture(200), stopped_at=None)
    dream._saved_picture = dream.result_image()

    def failing(*args, **kwargs):
        raise InputError("the network could not be built")
        yield  # a generator

    monkeypatch.setattr("cnnstudio.gui.tabs.dream.tab.dream_job", failing)
    dream.show_error = lambda *args, **kwargs: None
    with qtbot.waitSignal(dream.runner.done, timeout=10_000):
        dream.run_job()
    assert dream.progress.format() == "Failed"
    assert np.array_equal(dream.preview.image(), source)
    assert dream.result_image() is None
