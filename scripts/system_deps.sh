#!/usr/bin/env bash
# The Debian/Ubuntu packages napari-sleap-train needs: Python's venv, Mesa's OpenGL and the
# X11/xcb libraries of Qt, and without a display Xvfb. Installs the missing ones when run
# as root; otherwise prints the one command that installs them and fails.
set -euo pipefail
pkgs=(libgl1 libegl1 libgl1-mesa-dri libxkbcommon-x11-0 libxkbcommon0 libdbus-1-3
      libfontconfig1 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
      libxcb-render-util0 libxcb-xinerama0 libxcb-xfixes0 libxcb-shape0 libxcb-cursor0
      libxcb-xkb1)
[ -n "${DISPLAY:-}" ] || pkgs+=(xvfb xauth)
python3 -c "import ensurepip" 2>/dev/null || pkgs+=(python3-venv)
if ! command -v dpkg >/dev/null 2>&1; then
  echo "system packages: not a Debian/Ubuntu system; make sure OpenGL (Mesa), Qt's xcb" \
       "libraries${DISPLAY:+} and, without a display, Xvfb are installed."
  exit 0
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]})) || exit 0
echo "system packages missing: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "install them with:"
  echo "  sudo apt-get install -y ${missing[*]}"
  echo "then run make again."
  exit 1
fi
echo "installing them with apt-get (as root) ..."
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "system packages installed."
