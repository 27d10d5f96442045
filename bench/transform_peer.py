#!/usr/bin/python3
"""Peer for bench-transform: torchvision's PIL pipeline on the same raw NHWC u8 96x96 images.
Prints the median images/s over `repeats` runs (one number on stdout)."""
import statistics
import sys
import time

import numpy as np
import torch
from PIL import Image
import torchvision.transforms as T

path, n, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(1)
imgs = np.fromfile(path, dtype=np.uint8).reshape(n, 96, 96, 3)
tf = T.Compose([T.Resize((32, 32)), T.ToTensor(),
                T.Normalize(mean=[0.4914, 0.4822, 0.4465], std=[0.2470, 0.2435, 0.2616])])
rates = []
for _ in range(reps):
    t0 = time.perf_counter()
    out = torch.stack([tf(Image.fromarray(imgs[i])) for i in range(n)])
    rates.append(n / (time.perf_counter() - t0))
print(f"{statistics.median(rates):.1f}")
