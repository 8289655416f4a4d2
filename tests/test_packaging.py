"""packaging/: the desktop entry, its icons, the install script, the PyInstaller spec and
the bundle's launcher, checked without running PyInstaller (a build takes minutes)."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import stat
import subprocess
import xml.etree.ElementTree as ET
from importlib import metadata
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"
ICONS = ROOT / "resources" / "icons"

# Keys of the Desktop Entry Specification 1.5 this entry may use (catches typos).
KNOWN_KEYS = {
    "Type", "Version", "Name", "GenericName", "NoDisplay", "Comment", "Icon", "Hidden",
    "OnlyShowIn", "NotShowIn", "DBusActivatable", "TryExec", "Exec", "Path", "Terminal",
    "Actions", "MimeType", "Categories", "Implements", "Keywords", "StartupNotify",
    "StartupWMClass", "URL", "PrefersNonDefaultGPU", "SingleMainWindow",
}  # fmt: skip


def _desktop_entry(path: Path = PACKAGING / "cnnstudio.desktop") -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # desktop-entry keys are case-sensitive
    parser.read(path, encoding="utf-8")
    assert parser.sections() == ["Desktop Entry"]
    return dict(parser["Desktop Entry"])


def test_desktop_entry_is_a_launchable_application():
    entry = _desktop_entry()
    assert set(entry) <= KNOWN_KEYS, set(entry) - KNOWN_KEYS
    assert entry["Type"] == "Application"
    assert entry["Name"] == "CNN Studio"
    assert entry["Terminal"] == "false"
    assert entry["Icon"] == "cnnstudio"  # a theme name: the install script puts it in hicolor
    program, *field_codes = shlex.split(entry["Exec"])
    assert field_codes == ["%F"], "the window opens the image files it is given"
    assert entry["TryExec"] == program
    # The program is the GUI entry point the package really installs.
    gui_scripts = {ep.name: ep.value for ep in metadata.entry_points(group="gui_scripts")}
    assert gui_scripts.get(program) == "cnnstudio.gui.app:main"
    for key in ("Categories", "MimeType", "Keywords"):
        assert entry[key].endswith(";"), f"{key} is a ;-terminated list"
    assert all(m.startswith("image/") for m in entry["MimeType"].rstrip(";").split(";"))


def test_icon_files_exist_and_are_real_images():
    for name, size in (("cnnstudio-256.png", 256), ("cnnstudio-64.png", 64)):
        with Image.open(ICONS / name) as image:
            assert image.format == "PNG"
            assert image.size == (size, size)
    root = ET.parse(ICONS / "cnnstudio.svg").getroot()
    assert root.tag.endswith("svg")
    # Every icon the install script copies is one of those files.
    script = (PACKAGING / "install-desktop-entry.sh").read_text(encoding="utf-8")
    copied = set(re.findall(r'"\$res/([^"]+)"', script))
    assert copied == {"cnnstudio-256.png", "cnnstudio-64.png", "cnnstudio.svg"}
    assert all((ICONS / name).is_file() for name in copied)


def test_install_script_writes_an_absolute_exec_and_the_icons(tmp_path):
    exe = tmp_path / "my apps" / "cnnstudio-gui"
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\n", encoding="utf-8")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "share")}
    script = PACKAGING / "install-desktop-entry.sh"
    done = subprocess.run(
        ["bash", str(script), str(exe)], env=env, capture_output=True, text=True, check=True
    )
    assert "installed" in done.stdout
    entry = _desktop_entry(tmp_path / "share" / "applications" / "cnnstudio.desktop")
    assert shlex.split(entry["Exec"]) == [str(exe), "%F"]  # quoted: the path has a space
    assert entry["TryExec"] == str(exe)
    assert entry["Name"] == "CNN Studio"
    hicolor = tmp_path / "share" / "icons" / "hicolor"
    installed = hicolor / "256x256" / "apps" / "cnnstudio.png"
    assert installed.read_bytes() == (ICONS / "cnnstudio-256.png").read_bytes()
    assert (hicolor / "scalable" / "apps" / "cnnstudio.svg").is_file()

    subprocess.run(["bash", str(script), "--uninstall"], env=env, capture_output=True, check=True)
    assert not (tmp_path / "share" / "applications" / "cnnstudio.desktop").exists()
    assert not installed.exists()

    missing = subprocess.run(
        ["bash", str(script), str(tmp_path / "nope")], env=env, capture_output=True, text=True
    )
    assert missing.returncode == 2
    assert "nope" in missing.stderr


def test_spec_compiles_and_bundles_the_launcher_and_resources():
    source = (PACKAGING / "cnnstudio.spec").read_text(encoding="utf-8")
    compile(source, "cnnstudio.spec", "exec")  # a SyntaxError fails the test
    assert '"launcher.py"' in source
    assert (PACKAGING / "launcher.py").is_file()
    # Resources go where importlib.resources.files("cnnstudio.resources") finds them.
    assert '"resources"' in source and '"cnnstudio/resources"' in source
    # AutoGraph needs the .py sources of the tf.function steps inside the bundle.
    assert re.search(r'module_collection_mode=\{"cnnstudio": "pyz\+py"\}', source)
    for name in ("cnnstudio.desktop", "install-desktop-entry.sh"):
        assert f'"{name}"' in source and (PACKAGING / name).is_file()


def test_entry_point_tells_files_to_open_from_cli_jobs(tmp_path, monkeypatch):
    from cnnstudio.__main__ import opens_files

    image = tmp_path / "cat.png"
    Image.new("RGB", (8, 8)).save(image)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dream").write_text("a file named like a job", encoding="utf-8")
    assert opens_files([str(image)])
    assert opens_files(["cat.png", str(image)])
    assert not opens_files([])
    assert not opens_files(["dream", "cat.png"])  # the job wins over a file
    assert not opens_files(["--version"])
    assert not opens_files([str(image), "missing.png"])


def test_entry_point_routes_to_the_window_or_the_cli(tmp_path, monkeypatch):
    import cnnstudio.__main__
    import cnnstudio.cli.main
    import cnnstudio.gui.app

    image = tmp_path / "cat.png"
    Image.new("RGB", (8, 8)).save(image)
    calls = []
    monkeypatch.setattr(cnnstudio.gui.app, "main", lambda argv: calls.append(("gui", argv)) or 0)
    monkeypatch.setattr(cnnstudio.cli.main, "main", lambda argv: calls.append(("cli", argv)) or 3)
    assert cnnstudio.__main__.main([str(image)]) == 0
    assert cnnstudio.__main__.main(["classify", str(image)]) == 3
    assert cnnstudio.__main__.main([]) == 0  # no arguments: the window
    assert calls == [("gui", [str(image)]), ("cli", ["classify", str(image)]), ("gui", [])]


def test_bundle_launcher_uses_the_same_entry_point():
    source = (PACKAGING / "launcher.py").read_text(encoding="utf-8")
    assert "from cnnstudio.__main__ import main" in source
    # a frozen bundle's training child (spawned) must turn into the child, not a window
    main_block = source.split('if __name__ == "__main__":', 1)[1]
    assert main_block.index("multiprocessing.freeze_support()") < main_block.index("main()")


def test_make_package_builds_into_ignored_folders():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\npackage:", 1)[1].split("\n\n", 1)[0]
    assert "--distpath dist --workpath build" in recipe
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert "dist/" in ignored and "build/" in ignored


def test_every_package_ships_in_the_wheel():
    """pyproject lists the packages by hand (resources/ is mapped into cnnstudio.resources,
    which automatic discovery cannot do): a package missing from the list works in the
    editable install of the tests and is absent from a real install or bundle."""
    import tomllib

    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "cnnstudio").rglob("__init__.py")
    }
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages"
    assert listed - on_disk == {"cnnstudio.resources"}
