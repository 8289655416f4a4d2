#!/usr/bin/env bash
# Put CNN Studio in the desktop's application menu (per user, no root needed).
#
#   packaging/install-desktop-entry.sh                  the pip/venv install (cnnstudio-gui)
#   packaging/install-desktop-entry.sh dist/cnnstudio/cnnstudio   a PyInstaller bundle
#   packaging/install-desktop-entry.sh --uninstall      remove the entry and the icons
#
# The bundle carries a copy of this script and of cnnstudio.desktop next to its
# executable: there, `./install-desktop-entry.sh` alone installs that bundle.
# The entry's Exec line gets the absolute path of the executable, so the menu works even
# when the venv's bin/ is not on PATH.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"  # packaging/ in the repository, or the bundle
data="${XDG_DATA_HOME:-$HOME/.local/share}"
apps="$data/applications"
icons="$data/icons/hicolor"

if [[ "${1:-}" == "--uninstall" ]]; then
    rm -f "$apps/cnnstudio.desktop" "$icons/256x256/apps/cnnstudio.png" \
        "$icons/64x64/apps/cnnstudio.png" "$icons/scalable/apps/cnnstudio.svg"
    command -v update-desktop-database >/dev/null && update-desktop-database "$apps" || true
    echo "removed $apps/cnnstudio.desktop"
    exit 0
fi

if [[ $# -ge 1 ]]; then
    exe="$1"
elif [[ -x "$here/cnnstudio" && -d "$here/_internal" ]]; then
    exe="$here/cnnstudio"  # run from inside a bundle
else
    exe="$(command -v cnnstudio-gui || echo "$here/../.venv/bin/cnnstudio-gui")"
fi
if [[ ! -x "$exe" ]]; then
    echo "install-desktop-entry: '$exe' is not an executable; run 'make run' (venv) or" \
        "'make package' (bundle) first, or pass the executable's path" >&2
    exit 2
fi
exe="$(cd "$(dirname "$exe")" && pwd)/$(basename "$exe")"

# Icons: the bundle's own copy for a bundle, else the repository's resources/.
res="$(dirname "$exe")/_internal/cnnstudio/resources/icons"
[[ -d "$res" ]] || res="$here/../resources/icons"

mkdir -p "$apps" "$icons/256x256/apps" "$icons/64x64/apps" "$icons/scalable/apps"
# Desktop-entry quoting: the path goes in double quotes with \ " ` $ backslash-escaped,
# and each of those backslashes is doubled again by the string-value escaping.
quoted="\"$(printf '%s' "$exe" | sed -e 's/\\/\\\\\\\\/g' -e 's/["`$]/\\\\&/g')\""
tmp="$(mktemp)"
# (ENVIRON, not awk -v: -v would undo the backslash escapes.)
EXEC_LINE="Exec=$quoted %F" TRY_LINE="TryExec=${exe//\\/\\\\}" awk '
    /^Exec=/ { print ENVIRON["EXEC_LINE"]; next }
    /^TryExec=/ { print ENVIRON["TRY_LINE"]; next }
    { print }' "$here/cnnstudio.desktop" >"$tmp"
install -m 644 "$tmp" "$apps/cnnstudio.desktop"
rm -f "$tmp"
install -m 644 "$res/cnnstudio-256.png" "$icons/256x256/apps/cnnstudio.png"
install -m 644 "$res/cnnstudio-64.png" "$icons/64x64/apps/cnnstudio.png"
install -m 644 "$res/cnnstudio.svg" "$icons/scalable/apps/cnnstudio.svg"
command -v update-desktop-database >/dev/null && update-desktop-database "$apps" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q "$icons" 2>/dev/null || true
echo "installed $apps/cnnstudio.desktop (Exec=$quoted %F)"
