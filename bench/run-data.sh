#!/bin/sh
# Data benchmark driver: decode (bench-data: Fashion-MNIST IDX .gz and a 50,000-record CIFAR-format
# .tar.gz, libmia vs gzip/tarfile + numpy) and the transform pipeline (bench-transform: Resize
# 96->32 + ToTensor + Normalize, libmia vs torchvision's PIL pipeline on the same images), each
# peer run in the same process tree, interleaved. Prints both tables.
#   bench/run-data.sh [build-dir]       (env: REPS=5 N_TRANSFORM=2000)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-}
if [ -z "$build" ]; then
  for b in "$here"/../build*/; do [ -x "$b/bench/bench-data" ] && build=$b && break; done
fi
[ -n "$build" ] && [ -x "$build/bench/bench-data" ] || { echo "run-data.sh: bench-data not found (pass the build dir)" >&2; exit 2; }
REPS=${REPS:-5}
N_TRANSFORM=${N_TRANSFORM:-2000}
echo "# machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$build/bench/bench-data" "$REPS" "$here/data_peer.py"
echo
"$build/bench/bench-transform" "$N_TRANSFORM" "$REPS" "$here/transform_peer.py"
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
