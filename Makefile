# Two entry points do all the set-up on a fresh machine (see README):
#   make run    create .venv, install CNN Studio, open the window
#   make test   create .venv, install CNN Studio with its test tools, lint, run every test
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test lint bench screenshot package clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

# the platform check names the missing X11 libraries (Debian packages) before Qt starts
run: $(VENV)/.installed
	$(PY) -m cnnstudio.gui.platform_check
	$(VENV)/bin/cnnstudio

# ruff for style; lint-imports for the layer contracts in pyproject.toml (core below the
# front ends, no Qt in the core, no import cycles)
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check cnnstudio tests bench scripts
	$(VENV)/bin/lint-imports

test: lint
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest

bench: $(VENV)/.installed
	$(PY) -m bench

screenshot: $(VENV)/.installed
	$(PY) scripts/screenshot.py docs/dream-tab.png
	$(PY) scripts/screenshot.py --scene style docs/style-tab.png
	$(PY) scripts/screenshot.py --scene faststyle --train-shot docs/faststyle-train-tab.png docs/faststyle-use-tab.png
	$(PY) scripts/screenshot.py --scene shortcuts docs/shortcuts.png
	$(PY) scripts/screenshot_runs.py docs/runs-browser.png
	$(PY) scripts/screenshot_visualize.py docs/visualize-view.jpg docs/visualize-grid.jpg

# The bundle lands in dist/cnnstudio/ (build/ holds PyInstaller's work files); both are
# gitignored. See packaging/README.md.
package: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[package]"
	$(VENV)/bin/pyinstaller --noconfirm --distpath dist --workpath build packaging/cnnstudio.spec
	dist/cnnstudio/cnnstudio --version
	@echo "bundle: dist/cnnstudio/  menu entry: dist/cnnstudio/install-desktop-entry.sh"

clean:
	rm -rf $(VENV) build dist *.egg-info
