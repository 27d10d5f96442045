#!/usr/bin/python3
"""PyTorch peer of bench-models.c: the identical architecture (built by
tests/gen-model-fixtures.py from spec §2), the same step (training: forward, mean cross-entropy,
backward, Adam lr 1e-3; inference: eval forward under torch.inference_mode), the same timing rule
(warm-up, then steps until --seconds and --min-steps, median step time), the same key=value output.
peak RSS from resource.getrusage (ru_maxrss). Settings: torch.set_num_threads(--threads),
--channels-last converts model and input to channels_last memory format.
    models_peer.py --arch resnet18_cifar --mode train|infer [--batch 64] [--channels-last]
"""
import argparse
import importlib.util
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F


def load_builder():
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "tests", "gen-model-fixtures.py")
    spec = importlib.util.spec_from_file_location("gen_model_fixtures", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="resnet18_cifar")
    ap.add_argument("--mode", default="train", choices=["train", "infer"])
    ap.add_argument("--batch", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--size", type=int, default=0)
    ap.add_argument("--classes", type=int, default=0)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--min-steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--channels-last", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    gm = load_builder()
    k0, c0, s0 = gm.DEFAULTS[a.arch]
    k, c, s = a.classes or k0, c0, a.size or s0
    train = a.mode == "train"
    batch = a.batch or (64 if train else 256)
    torch.manual_seed(1)
    model = gm.build_model(a.arch, k, c, s)
    x = torch.randn(batch, c, s, s)
    y = torch.randint(0, k, (batch,))
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    times, ctimes = [], []
    if train:
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    else:
        model.eval()
    step, start = 0, None
    while True:
        if step == a.warmup:
            start = time.perf_counter()
        if step >= a.warmup and len(times) >= a.min_steps and time.perf_counter() - start >= a.seconds:
            break
        t0, c0 = time.perf_counter(), time.process_time()
        if train:
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
        else:
            with torch.inference_mode():
                model(x)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        if step >= a.warmup:
            times.append(dt)
            ctimes.append(dc)
        step += 1
    times.sort()
    n = len(times)
    med = times[n // 2] if n % 2 else 0.5 * (times[n // 2 - 1] + times[n // 2])
    print("arch=%s\nmode=%s\nbatch=%d\nthreads=%d" % (a.arch, a.mode, batch, torch.get_num_threads()))
    print("torch=%s channels_last=%d ATEN_CPU_CAPABILITY=%s" %
          (torch.__version__, int(a.channels_last), os.environ.get("ATEN_CPU_CAPABILITY", "default")))
    print("steps=%d\nmedian_step_s=%.6f\nimages_per_s=%.2f" % (n, med, batch / med))
    print("peak_rss_mib=%.1f" % (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0))
    ctimes.sort()
    medc = ctimes[n // 2] if n % 2 else 0.5 * (ctimes[n // 2 - 1] + ctimes[n // 2])
    print("median_step_cpu_s=%.6f\nimages_per_cpu_s=%.2f" % (medc, batch / medc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
