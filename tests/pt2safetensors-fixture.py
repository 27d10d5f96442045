#!/usr/bin/python3
"""Build a small PyTorch state_dict for test-pt2safetensors.c: save it as OUTDIR/model.pt and
write OUTDIR/manifest.txt with one line per tensor: name dtype ndim dims... sha256(bytes), where
the bytes are taken from the in-memory tensors before saving (the oracle)."""
import hashlib
import os
import sys

import torch


def main():
    out = sys.argv[1]
    g = torch.Generator().manual_seed(0)
    net = torch.nn.Sequential()
    net.add_module("conv1", torch.nn.Conv2d(3, 4, 3, bias=False))
    net.add_module("bn1", torch.nn.BatchNorm2d(4))
    layer = torch.nn.Sequential(torch.nn.Sequential())
    layer[0].add_module("bn1", torch.nn.BatchNorm2d(2))
    net.add_module("layer1", layer)
    net.add_module("fc", torch.nn.Linear(5, 3))
    net.train()
    net.bn1(torch.randn(2, 4, 3, 3, generator=g))  # running stats, num_batches_tracked = 1
    sd = net.state_dict()
    sd["layer1.0.bn1.running_mean"].copy_(torch.tensor([0.25, -1.5]))
    sd["extra.f64"] = torch.randn(2, 2, generator=g, dtype=torch.float64)
    sd["extra.f16"] = torch.tensor([1.0, -2.5, 65504.0], dtype=torch.float16)
    sd["extra.bf16"] = torch.tensor([1.0, 3.0], dtype=torch.bfloat16)
    sd["extra.i32"] = torch.tensor([[1, -2], [3, 4]], dtype=torch.int32)
    sd["extra.u8"] = torch.arange(7, dtype=torch.uint8)
    sd["extra.scalar"] = torch.tensor(2.5)
    sd["extra.empty"] = torch.zeros(0, 3)
    sd["extra.noncontig"] = torch.arange(6.0).reshape(2, 3).t()
    torch.save(sd, os.path.join(out, "model.pt"))
    names = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16",
             torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8"}
    with open(os.path.join(out, "manifest.txt"), "w") as f:
        for k, t in sd.items():
            c = t.contiguous()
            raw = (c.view(torch.int16) if c.dtype == torch.bfloat16 else c).numpy().tobytes()
            dims = " ".join(str(d) for d in t.shape)
            f.write(f"{k} {names[t.dtype]} {t.dim()} {dims} {hashlib.sha256(raw).hexdigest()}\n")
    # a pickle that must be refused: it would call os.system on load
    import pickle

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + os.path.join(out, "pwned"),))
    torch.save({"w": torch.zeros(1), "evil": Evil()}, os.path.join(out, "evil.pt"))


if __name__ == "__main__":
    main()
