#!/bin/sh
# ResNet-18 (CIFAR, kuangliu) on the GPU: libmia's cuda backend vs PyTorch + cuDNN on the same
# device, batch 256, fp32, images/s for a training step (forward + loss gradient + backward,
# no optimiser update on either side) and for inference (eval forward). Runs are interleaved
# (libmia, torch, libmia, torch, ...) and medians reported, as bench/ does on the CPU.
#
#   bench/bench-gpu.sh BUILD_DIR [ROUNDS]      (BUILD_DIR configured with -Dcuda=enabled)
#
# Exits 77 when no CUDA device is visible. Written before any GPU was available to the project:
# the figures in doc/cuda.md are empty until someone runs it on a GPU machine.
set -eu
build=${1:?usage: bench-gpu.sh BUILD_DIR [ROUNDS]}
rounds=${2:-3}
src=$(cd "$(dirname "$0")/.." && pwd)
py=/usr/bin/python3

if ! $py -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    echo "bench-gpu: no CUDA device visible to PyTorch; skipping" >&2
    exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/drv.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <mia/mia.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
#define OK(x) do { if ((x) != MIA_OK) { fprintf(stderr, "%s: %s\n", #x, mia_last_error()); return 1; } } while (0)
int main(int argc, char **argv)
{
    const int64_t N = 256; const int iters = argc > 1 ? atoi(argv[1]) : 20;
    mia_backend *be; mia_model *m; mia_tensor *x, *dl; const mia_tensor *out;
    OK(mia_backend_create(&be, "cuda", NULL));
    OK(mia_model_create(&m, be, "resnet18_cifar", NULL));
    mia_graph *g = mia_model_graph(m);
    int64_t xs[4] = {N, 3, 32, 32}, ds[2] = {N, 10};
    OK(mia_tensor_create(&x, be, MIA_DTYPE_F32, 4, xs));
    OK(mia_tensor_create(&dl, be, MIA_DTYPE_F32, 2, ds));
    float *h = malloc(sizeof(float) * N * 3 * 32 * 32);
    for (int64_t i = 0; i < N * 3 * 32 * 32; i++) h[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
    OK(mia_tensor_upload(x, h, sizeof(float) * N * 3 * 32 * 32));
    for (int64_t i = 0; i < N * 10; i++) h[i] = ((i % 10) == 0 ? -0.9f : 0.1f) / (float)N; /* softmax - onehot */
    OK(mia_tensor_upload(dl, h, sizeof(float) * N * 10));
    for (int w = 0; w < 3; w++) { OK(mia_graph_forward(g, x, true, 1, &out)); OK(mia_graph_backward(g, dl)); }
    OK(mia_backend_synchronize(be));
    double t0 = now();
    for (int i = 0; i < iters; i++) { OK(mia_graph_forward(g, x, true, (uint64_t)i, &out)); OK(mia_graph_backward(g, dl)); }
    OK(mia_backend_synchronize(be));
    double train = N * iters / (now() - t0);
    for (int w = 0; w < 3; w++) OK(mia_graph_forward(g, x, false, 0, &out));
    OK(mia_backend_synchronize(be));
    t0 = now();
    for (int i = 0; i < iters; i++) OK(mia_graph_forward(g, x, false, 0, &out));
    OK(mia_backend_synchronize(be));
    double infer = N * iters / (now() - t0);
    printf("%.1f %.1f\n", train, infer);
    mia_tensor_free(x); mia_tensor_free(dl); mia_model_free(m); mia_backend_free(be); free(h);
    return 0;
}
C
cc -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -I"$src/include" -I"$build/include" -I"$build/include/mia" "$tmp/drv.c" \
   -L"$build/libmia" -Wl,-rpath,"$build/libmia" -lmia -o "$tmp/drv"

: > "$tmp/mia.txt"; : > "$tmp/torch.txt"; : > "$tmp/torch_tf32.txt"
i=0
while [ "$i" -lt "$rounds" ]; do
    "$tmp/drv" 20 >> "$tmp/mia.txt"
    $py "$src/bench/gpu_peer.py" --iters 20 >> "$tmp/torch.txt"
    $py "$src/bench/gpu_peer.py" --iters 20 --tf32 >> "$tmp/torch_tf32.txt"
    i=$((i + 1))
done

med() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 || echo "unknown GPU")
echo "ResNet-18 CIFAR, batch 256, fp32, $gpu, median of $rounds interleaved rounds (images/s)"
printf '%-34s %10s %10s\n' "" "train" "inference"
for f in mia torch torch_tf32; do
    tr=$(cut -d' ' -f1 "$tmp/$f.txt" | med); inf=$(cut -d' ' -f2 "$tmp/$f.txt" | med)
    case $f in
        mia) name="libmia cuda (fp32, deterministic)";;
        torch) name="PyTorch+cuDNN (fp32, TF32 off)";;
        torch_tf32) name="PyTorch+cuDNN (TF32 allowed)";;
    esac
    printf '%-34s %10s %10s\n' "$name" "$tr" "$inf"
done
