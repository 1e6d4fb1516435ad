#!/usr/bin/env bash
# Set up everything the tests need on a fresh Debian machine (as root, or with sudo) and run them:
#   - the core's venv (.venv): torch (pinned), clipasso with its test extras, inkex 1.4 (no deps);
#   - Inkscape 1.2 and xvfb (apt), for the extension tests through the real binary; chromium (apt),
#     to see a draw-on SVG animate;
#   - Blender as a module, 4.5 LTS and 5.0, each in its own venv (bpy pins numpy<2), plus the
#     libraries `import bpy` and rendering need (apt).
# CPU only. pytest exits 5 when it collected no tests: that is a failure here, like any non-zero status.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    inkscape chromium xvfb xauth python3-lxml python3-numpy python3-cssselect python3-tinycss2 python3-scour \
    libx11-6 libxrender1 libxfixes3 libxi6 libxkbcommon0 libsm6 libgl1 libegl1 >/dev/null

python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q torch==2.14.1 torchvision==0.29.1
.venv/bin/pip install -q -e ".[test]"
.venv/bin/pip install -q --no-deps inkex==1.4.1
.venv/bin/pip install -q "cssselect>=1.2,<2" "lxml>=4.5,<6" pyserial pyparsing "scour>=0.37,<0.38" "tinycss2>=1.0.1,<2"

for pair in 4.5.15:.venv-bpy45 5.0.1:.venv-bpy50; do
    python3 -m venv "${pair#*:}"
    "${pair#*:}/bin/pip" install -q "bpy==${pair%%:*}" pytest resvg-py pillow
done

.venv/bin/python -m pytest -q -p no:cacheprovider tests --ignore=tests/blender
for venv in .venv-bpy45 .venv-bpy50; do
    CLIPASSO_CORE_PYTHON="$PWD/.venv/bin/python" "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/blender
done
