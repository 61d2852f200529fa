#!/usr/bin/env bash
# Install what the tests need on a Debian 12 machine: system packages, then a virtual environment.
set -euo pipefail
cd "$(dirname "$0")/.."
SYSTEM_PACKAGES=(ffmpeg mosquitto postgresql python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly debootstrap chromium)
missing=()
for package in "${SYSTEM_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${missing[@]}" >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; }
fi
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# A CPU build of torch first, with the torchvision of the same release: an unpinned torchvision (0.29
# needs torch 2.14) would replace it with a CUDA build (3.2 GB of nvidia-* wheels; measured 6.4 GB venv).
.venv/bin/python -c 'import torch' 2>/dev/null || .venv/bin/python -m pip install -q \
  "torch==${IOC_TORCH_VERSION:-2.13.0}" "${IOC_TORCHVISION_SPEC:-torchvision<0.29}"
# Where torch 2.13.0 comes from a local CPU wheel (as on the CI machines), PyPI's torchvision 0.28 is
# built for PyPI's torch and fails to import ("operator torchvision::nms does not exist"), which breaks
# the `ultralytics` detector's NMS. Then take the pair that imports together (a CUDA build, larger).
.venv/bin/python -c 'import torchvision' 2>/dev/null || .venv/bin/python -m pip install -q \
  "torch==${IOC_TORCH_FALLBACK_VERSION:-2.14.1}" "torchvision==${IOC_TORCHVISION_FALLBACK_VERSION:-0.29.1}"
.venv/bin/python -m pip install -q -e '.[all]'
# The console's front-end libraries (uPlot, Leaflet, marker clusters; axe-core for the browser tests),
# from the npm registry at the versions of server/web/package-lock.json, served by the server itself.
if command -v npm >/dev/null; then
  (cd server/web && npm ci --no-audit --no-fund --loglevel=error)
else
  echo "== npm not found (apt-get install npm): the console falls back to plain charts and the grid map"
fi
echo "== ready: $(.venv/bin/python --version), $(.venv/bin/ioc --version)"
