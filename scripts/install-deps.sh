#!/bin/sh
# Install the Debian 12 packages libmia needs, only those that are missing.
#   scripts/install-deps.sh            build + run (the main job)
#   scripts/install-deps.sh --tests    + test oracles and fixtures (torch, sklearn, PIL, rsvg)
#   scripts/install-deps.sh --bench    + benchmark peers
# Needs root (or sudo) only when something is missing.
set -eu

BUILD="build-essential meson ninja-build pkg-config libdnnl-dev libopenblas-dev
libjansson-dev libarchive-dev libjpeg62-turbo-dev libpng-dev libstb-dev zlib1g-dev
libmatio-dev libcmocka-dev dataset-fashion-mnist python3 python3-numpy python3-pil"
TESTS="python3-numpy python3-torch python3-torchvision python3-sklearn python3-pil
librsvg2-bin libclang-rt-14-dev clang-14 valgrind"
BENCH="python3-numpy python3-torch python3-torchvision python3-sklearn python3-pil"

want="$BUILD"
for a in "$@"; do
    case "$a" in
    --tests) want="$want $TESTS" ;;
    --bench) want="$want $BENCH" ;;
    *) echo "install-deps.sh: unknown option '$a'" >&2; exit 2 ;;
    esac
done

missing=""
for p in $want; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "install-deps.sh: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "install-deps.sh: missing packages:$missing (run as root)" >&2; exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || true
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
