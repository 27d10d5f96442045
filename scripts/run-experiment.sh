#!/bin/sh
# The README's main job: install what is missing, build, and run the embedded default
# experiment (Fashion-MNIST). Extra arguments go to mia-experiment run.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
[ -f build-release/build.ninja ] || meson setup build-release --buildtype=release >/dev/null
ninja -C build-release >/dev/null
exec build-release/tools/mia-experiment run configs/fashion-mnist.json "$@"
