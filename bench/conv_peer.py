#!/usr/bin/python3
"""PyTorch peer of bench/bench-conv.c: conv 3x3, 64->64, N=64, 32x32, stride 1, pad 1, no bias,
f32, forward / backward-data / backward-weights at --threads threads (torch.set_num_threads).

Two settings are timed, interleaved within every trial: the default (NCHW contiguous tensors,
which PyTorch 1.13 runs through oneDNN with its own reorders) and channels_last (NHWC, no
reorders); neither mkldnn tensors nor any other layout is forced. Prints key=value lines with the
median GFLOP/s of each setting, the default's figures and the best setting's (by total).
Run with Debian's interpreter: /usr/bin/python3 bench/conv_peer.py [--threads 2] [--trials 7]
"""
import argparse
import statistics
import time

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--trials", type=int, default=7)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--n", type=int, default=64)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    N, C, O, H, W, K = args.n, 64, 64, 32, 32, 3
    flop = 2.0 * N * O * H * W * C * K * K
    conv_bwd = torch.ops.aten.convolution_backward

    modes = {}
    for mode in ("nchw", "channels_last"):
        fmt = torch.channels_last if mode == "channels_last" else torch.contiguous_format
        x = torch.randn(N, C, H, W).contiguous(memory_format=fmt)
        w = (0.1 * torch.randn(O, C, K, K)).contiguous(memory_format=fmt)
        dy = torch.randn(N, O, H, W).contiguous(memory_format=fmt)

        def fwd(x=x, w=w):
            return torch.nn.functional.conv2d(x, w, None, 1, 1)

        def bwd_data(x=x, w=w, dy=dy):
            return conv_bwd(dy, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1,
                            [True, False, False])

        def bwd_weights(x=x, w=w, dy=dy):
            return conv_bwd(dy, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1,
                            [False, True, False])

        modes[mode] = [fwd, bwd_data, bwd_weights]

    names = ["fwd", "bwd_data", "bwd_weights"]
    times = {m: {d: [] for d in names + ["total"]} for m in modes}
    with torch.no_grad():
        for m in modes:  # warm-up
            for f in modes[m]:
                for _ in range(2):
                    f()
        for _ in range(args.trials):
            for m in modes:
                tot = 0.0
                for d, f in zip(names, modes[m]):
                    t0 = time.perf_counter()
                    for _ in range(args.reps):
                        f()
                    dt = (time.perf_counter() - t0) / args.reps
                    times[m][d].append(dt)
                    tot += dt
                times[m]["total"].append(tot)

    def gf(m, d):
        mult = 3.0 if d == "total" else 1.0
        return mult * flop / statistics.median(times[m][d]) / 1e9

    print(f"torch={torch.__version__} threads={torch.get_num_threads()} n={N} "
          f"trials={args.trials} reps={args.reps}")
    for m in modes:
        print(f"torch_mode={m} " + " ".join(f"{d}={gf(m, d):.1f}" for d in names + ["total"]))
    best = max(modes, key=lambda m: gf(m, "total"))
    for d in names + ["total"]:
        print(f"default_{d}_gflops={gf('nchw', d):.1f}")
    print(f"best_mode={best}")
    for d in names + ["total"]:
        print(f"best_{d}_gflops={gf(best, d):.1f}")


if __name__ == "__main__":
    main()
