#!/usr/bin/python3
"""Peer for bench-data: decode into memory with the usual Python tools, print seconds.
  data_peer.py idx DIR -      Fashion-MNIST train+test images and labels: gzip + numpy.frombuffer
                              (torchvision's read_sn3_pascalvincent_tensor does the same).
  data_peer.py cifar TGZ -    CIFAR-10 binary .tar.gz: tarfile streamed ("r|gz") + numpy reshape
                              of every data_batch_N.bin into (N, 3, 32, 32) images and labels."""
import gzip
import sys
import tarfile
import time

import numpy as np


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    nd = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims).copy()


def run_idx(d):
    out = []
    for p in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
              "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        out.append(idx(f"{d}/{p}"))
    assert out[0].shape[0] == 60000 and out[2].shape[0] == 10000
    return out


def run_cifar(tgz):
    imgs, labs = [], []
    with tarfile.open(tgz, "r|gz") as t:
        for m in t:
            if m.isfile() and m.name.split("/")[-1].startswith("data_batch_"):
                raw = np.frombuffer(t.extractfile(m).read(), dtype=np.uint8).reshape(-1, 3073)
                labs.append(raw[:, 0].astype(np.int64))
                imgs.append(raw[:, 1:].reshape(-1, 3, 32, 32).copy())
    x = np.concatenate(imgs)
    assert x.shape[0] == 50000
    return x, np.concatenate(labs)


mode, arg = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
if mode == "idx":
    run_idx(arg)
else:
    run_cifar(arg)
print(f"{time.perf_counter() - t0:.6f}")
