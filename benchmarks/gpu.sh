#!/usr/bin/env bash
# GPU benchmark in one prepared run: decode fps (OpenCV, NVDEC when present), model fps,
# end-to-end fps (decode -> downscale -> GPU tensor path) and the naive YOLO predict loop.
# Prints one JSON line at the end; writes $OUT/bench-gpu.json (+ gpu.log) when OUT is set.
#
#   bash benchmarks/gpu.sh [--quick] [--tensorrt] [extra `python -m benchmarks gpu` options]
#
# The GPU machine has Python + torch + opencv but no network and no gaitlake deps:
# wheels carried in .whl/ (made here by benchmarks/gpu_wheels.sh) are installed into
# /tmp/gaitlake-site first. On a machine with the project's venv (e.g. this CPU box)
# nothing is installed and the CPU fallback runs. Whole run bounded to 8 minutes.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ] && PY=.venv/bin/python
LIMIT=${GPU_BENCH_LIMIT_S:-480}
# The video: $BENCH_VIDEO, else ../shared/videos (a developer's checkout), else .whl/ (carried).
VIDEO=${BENCH_VIDEO:-}
for v in ../shared/videos/treadmill-side-60fps.mp4 shared/videos/treadmill-side-60fps.mp4 .whl/treadmill-side-60fps.mp4; do
  [ -z "$VIDEO" ] && [ -f "$v" ] && VIDEO=$v
done
[ -n "$VIDEO" ] || { echo '{"benchmark":"gpu","error":"no video: set BENCH_VIDEO or carry .whl/treadmill-side-60fps.mp4"}'; exit 1; }
export YOLO_OFFLINE=true YOLO_AUTOINSTALL=false YOLO_VERBOSE=false PYTHONUNBUFFERED=1
if ! $PY -c "import ultralytics, pydantic" 2>/dev/null; then
  if ls .whl/*.whl >/dev/null 2>&1; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/gaitlake-site .whl/*.whl \
      || { echo '{"benchmark":"gpu","error":"wheel install failed"}'; exit 1; }
    export PYTHONPATH=/tmp/gaitlake-site:${PYTHONPATH:-}
  else
    echo '{"benchmark":"gpu","error":"ultralytics/pydantic missing and no .whl/ carried (run benchmarks/gpu_wheels.sh)"}'; exit 1
  fi
fi
export PYTHONPATH=$PWD:${PYTHONPATH:-}
# PyAV is only needed for probing; the benchmark decodes with OpenCV.
$PY -c "import av" 2>/dev/null || export GAITLAKE_NO_PYAV=1
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
log=/dev/null; [ -n "${OUT:-}" ] && mkdir -p "$OUT" && log=$OUT/gpu.log
timeout -k 10 "$LIMIT" $PY -m benchmarks gpu --video "$VIDEO" "$@" 2>&1 | tee "$log" | grep -v '^WARNING' | tail -n 40
rc=${PIPESTATUS[0]}
[ "$rc" = 124 ] && echo '{"benchmark":"gpu","error":"timed out after '"$LIMIT"' s"}'
exit "$rc"
