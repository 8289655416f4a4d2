"""Before Qt starts, missing X11 libraries are named with the packages to install."""

from __future__ import annotations

from cnnstudio.gui import app, platform_check


def test_names_the_missing_packages_in_one_line():
    missing = {"libxcb-icccm.so.4", "libxcb-keysyms.so.1"}
    problem = platform_check.startup_problem(
        environ={"DISPLAY": ":0"}, platform="linux", loads=lambda soname: soname not in missing
    )
    assert problem is not None and "\n" not in problem
    assert problem.endswith("sudo apt-get install libxcb-icccm4 libxcb-keysyms1")
    assert "libxcb-cursor" not in problem  # Qt's own message blames this one wrongly


def test_nothing_to_say_when_all_are_there_or_xcb_is_not_used():
    everything = lambda soname: True  # noqa: E731
    nothing = lambda soname: False  # noqa: E731
    assert platform_check.startup_problem({"DISPLAY": ":0"}, "linux", everything) is None
    assert (
        platform_check.startup_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux", nothing) is None
    )
    assert platform_check.startup_problem({"XDG_SESSION_TYPE": "wayland"}, "linux", nothing) is None
    assert platform_check.startup_problem({}, "darwin", nothing) is None
    assert platform_check.startup_problem({"QT_QPA_PLATFORM": "xcb"}, "linux", nothing)


def test_no_display_is_said_in_one_line_before_qt_aborts():
    """Without DISPLAY Qt aborts blaming libxcb-cursor0, the very symptom of a missing
    library: say what is wrong instead."""
    everything = lambda soname: True  # noqa: E731
    problem = platform_check.startup_problem({}, "linux", everything)
    assert problem is not None and "\n" not in problem
    assert "no display" in problem and "xvfb-run" in problem and "libxcb" not in problem
    assert (
        platform_check.startup_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux", everything)
        is None
    )


def test_the_window_does_not_start_qt_when_libraries_are_missing(monkeypatch, capsys):
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setattr(platform_check, "_loads", lambda soname: soname != "libxcb-icccm.so.4")
    started = []
    monkeypatch.setattr(app, "create_app", lambda *a: started.append(a))
    assert app.main([]) == 2
    assert started == []
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "libxcb-icccm4" in err and "libxcb-keysyms1" not in err


def test_module_entry_point_exits_1_for_make_run(monkeypatch, capsys):
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr(platform_check, "_loads", lambda soname: soname != "libxcb-keysyms.so.1")
    assert platform_check.main() == 1
    assert "libxcb-keysyms1" in capsys.readouterr().err
    monkeypatch.setattr(platform_check, "_loads", lambda soname: True)
    assert platform_check.main() == 0
