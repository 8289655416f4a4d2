#!/usr/bin/env bash
# Put CNN Studio in the desktop's application menu (per user, no root needed).
# Run after `make run` has created .venv, or after `pip install cnnstudio`.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
icons="${XDG_DATA_HOME:-$HOME/.local/share}/icons/hicolor"
mkdir -p "$apps" "$icons/256x256/apps" "$icons/scalable/apps"
exe="$(command -v cnnstudio || echo "$here/.venv/bin/cnnstudio")"
sed "s|^Exec=cnnstudio|Exec=$exe|; s|^TryExec=cnnstudio|TryExec=$exe|" \
    "$here/packaging/cnnstudio.desktop" > "$apps/cnnstudio.desktop"
cp "$here/resources/icons/cnnstudio-256.png" "$icons/256x256/apps/cnnstudio.png"
cp "$here/resources/icons/cnnstudio.svg" "$icons/scalable/apps/cnnstudio.svg"
command -v update-desktop-database >/dev/null && update-desktop-database "$apps" || true
echo "installed $apps/cnnstudio.desktop"
