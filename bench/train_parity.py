#!/usr/bin/python3
"""Training parity: SalemCNN on the same Fashion-MNIST subset in libmia (mia-train) and in
PyTorch (Debian python3-torch) with identical hyper-parameters (the paper's: Adam, lr 0.001,
batch 64, shuffled, last partial batch kept, plain cross-entropy, x/255). Reports both test
accuracies on the 10,000 test images; they must differ by at most 1.5 points.

Usage: bench/train_parity.py BUILD_DIR [--subset 12500] [--epochs 10] [--seed 0]
"""
import argparse
import csv
import gzip
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from torch import nn

FM = os.environ.get("MIA_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    nd = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


class SalemCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.model = nn.Sequential(nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
                                   nn.Conv2d(32, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
                                   nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU())
        self.out = nn.Linear(128, 10)

    def forward(self, x):
        return self.out(self.model(x))


def torch_run(xtr, ytr, xte, yte, epochs, seed):
    torch.manual_seed(seed)
    torch.set_num_threads(os.cpu_count() or 1)
    m = SalemCNN()
    opt = torch.optim.Adam(m.parameters(), lr=0.001)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.from_numpy(xtr.astype(np.float32) / 255.0).unsqueeze(1)
    y = torch.from_numpy(ytr.astype(np.int64))
    for _ in range(epochs):
        m.train()
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 64):
            b = perm[i:i + 64]
            opt.zero_grad()
            loss_fn(m(x[b]), y[b]).backward()
            opt.step()
    m.eval()
    with torch.no_grad():
        xt = torch.from_numpy(xte.astype(np.float32) / 255.0).unsqueeze(1)
        pred = torch.cat([m(xt[i:i + 500]).argmax(1) for i in range(0, len(xt), 500)])
    return float((pred.numpy() == yte).mean())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir")
    ap.add_argument("--subset", type=int, default=12500)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backend", default="auto")
    a = ap.parse_args()
    tool = os.path.join(a.build_dir, "tools", "mia-train")
    with tempfile.TemporaryDirectory() as tmp:
        ind = os.path.join(tmp, "subset.csv")
        model = os.path.join(tmp, "salem.safetensors")
        t0 = time.time()
        subprocess.run([tool, "train", "--arch", "salem_cnn", "--data", "fashion-mnist:train",
                        "--subset", str(a.subset), "--subset-seed", str(a.seed),
                        "--save-indices", ind, "--epochs", str(a.epochs), "--seed", str(a.seed),
                        "--backend", a.backend, "-q", "-o", model], check=True)
        t_mia = time.time() - t0
        out = subprocess.run([tool, "eval", "--model", model, "--data", "fashion-mnist:test",
                              "--backend", a.backend, "-q"], check=True, capture_output=True,
                             text=True).stdout
        acc_mia = float(out.split("accuracy=")[1].split()[0])
        with open(ind) as f:
            sel = np.array([int(r["index"]) for r in csv.DictReader(f)])
    xtr = idx(os.path.join(FM, "train-images-idx3-ubyte.gz"))[sel]
    ytr = idx(os.path.join(FM, "train-labels-idx1-ubyte.gz"))[sel]
    xte = idx(os.path.join(FM, "t10k-images-idx3-ubyte.gz"))
    yte = idx(os.path.join(FM, "t10k-labels-idx1-ubyte.gz"))
    t0 = time.time()
    acc_torch = torch_run(xtr, ytr, xte, yte, a.epochs, a.seed)
    t_torch = time.time() - t0
    diff = abs(acc_mia - acc_torch) * 100
    print(f"SalemCNN, Fashion-MNIST subset {a.subset}, {a.epochs} epochs, Adam lr 0.001, batch 64")
    print(f"  libmia  test accuracy {acc_mia:.4f}  ({t_mia:.0f} s, backend {a.backend})")
    print(f"  PyTorch test accuracy {acc_torch:.4f}  ({t_torch:.0f} s, torch {torch.__version__})")
    print(f"  difference {diff:.2f} points (bar: <= 1.5) -> {'PASS' if diff <= 1.5 else 'FAIL'}")
    return 0 if diff <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
