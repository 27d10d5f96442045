#!/bin/sh
# The README's main job: install what is missing, build, and run the embedded default
# experiment (Fashion-MNIST). Extra arguments go to mia-experiment run.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# The out-of-distribution sets come from Debian packages, unpacked into a cache (not installed).
cache=${MIA_DATA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/libmia}
[ -f "$cache/skimage-patches-labels.idx.gz" ] || scripts/fetch-offline-data.sh >&2
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
[ -f build-release/build.ninja ] || meson setup build-release --buildtype=release >/dev/null
ninja -C build-release >/dev/null
exec build-release/tools/mia-experiment run configs/fashion-mnist.json "$@"
