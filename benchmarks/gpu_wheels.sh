#!/usr/bin/env bash
# Download (here, where PyPI is reachable) the wheels benchmarks/gpu.sh installs on the GPU
# machine, which has Python 3.12 + torch + opencv-headless but no network. Into .whl/ (ignored).
# Usage: bash benchmarks/gpu_wheels.sh [DIR]   (default .whl)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-.whl}
mkdir -p "$dir"
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
plat=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
      --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any)
get() { python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        "${plat[@]}" -d "$dir" "$@"; }
# Pose stack (ultralytics' hard imports) and the settings models.
get ultralytics==8.4.190 ultralytics-thop pydantic==2.14.4 pydantic-core==2.50.5 annotated-types typing-inspection
# Optional GPU decode (NVDEC); skipped by gpu.sh when absent or when it fails to load.
get pynvvideocodec==2.2.4 || echo "pynvvideocodec wheel not found: GPU decode will be skipped"
# The benchmark video travels with the wheels (../shared does not reach the GPU machine).
cp -f ../shared/videos/treadmill-side-60fps.mp4 "$dir"/ 2>/dev/null || echo "copy the treadmill video into $dir/ yourself"
du -sh "$dir"; ls -la "$dir"
