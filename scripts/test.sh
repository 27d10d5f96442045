#!/bin/sh
# The README's test command: install what is missing, configure, build, run the default suites.
#   scripts/test.sh [build-dir] [extra meson setup args...]
# Environment: MIA_TEST_SUITES (default "unit examples"), MESON_TEST_ARGS.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh --tests
builddir=${1:-build}
[ $# -gt 0 ] && shift
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
if [ -f "$builddir/build.ninja" ]; then
    meson configure "$builddir" "$@" >/dev/null
else
    meson setup "$builddir" "$@"
fi
ninja -C "$builddir"
suites=""
for s in ${MIA_TEST_SUITES:-unit examples}; do suites="$suites --suite $s"; done
# cmocka prints its summary on stderr: keep it in the log.
# shellcheck disable=SC2086
meson test -C "$builddir" --print-errorlogs --num-processes 2 $suites ${MESON_TEST_ARGS:-} 2>&1
