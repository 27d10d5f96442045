#!/usr/bin/python3
"""PyTorch parity fixtures for test-model-parity.c (issue 3).

    gen-model-fixtures.py ARCH OUTDIR [--batch N] [--channels C] [--size H] [--classes K]
                          [--seed S] [--bench]

The four architectures are written here from their description in shared/paper/spec.md §2
(kuangliu CIFAR ResNet-18 / EfficientNet-B0, SalemCNN_Relu, torchvision-layout ResNet-50), not
imported from libmia or torchvision, so this is an independent oracle. Writes:

  OUTDIR/ARCH.weights.safetensors   the model's state_dict (libmia loads it with
                                    mia_model_load_weights)
  OUTDIR/ARCH.expected.safetensors  x (input), labels (I64), logits_eval (eval mode, before any
                                    training forward), logits_train (train mode: batch
                                    statistics, dropout disabled), grad.<param> (gradients of the
                                    mean cross-entropy of logits_train after one backward), and
                                    after.<buffer> (BN running stats and num_batches_tracked
                                    after that one training forward), all computed in float64
                                    from the f32 weights and stored as f32; pt32err.<key>: the
                                    relative L2 error of PyTorch's own float32 run of the same
                                    tensor (f32 [1])

Seeded: torch.manual_seed(S) before building; BN affine parameters and running statistics are
then perturbed (seeded) so that eval-mode BN is not the identity. Dropout (EfficientNet's p=0.2
before the head) is built with p=0 for the comparison. Uses Debian's python3-torch (1.13) only.
--bench prints nothing and is used by bench/models_peer.py through import (build_model).
"""
import argparse
import copy
import json
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


# ---- architectures (spec §2) -----------------------------------------------------------------

class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride, bias=False),
                                          nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet18Cifar(nn.Module):
    def __init__(self, num_classes=10, in_ch=3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.in_planes = 64
        self.layer1 = self._make(64, 1)
        self.layer2 = self._make(128, 2)
        self.layer3 = self._make(256, 2)
        self.layer4 = self._make(512, 2)
        self.linear = nn.Linear(512, num_classes)

    def _make(self, planes, stride):
        layers = []
        for s in [stride, 1]:
            layers.append(BasicBlock(self.in_planes, planes, s))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        out = F.avg_pool2d(out, 4)
        return self.linear(out.view(out.size(0), -1))


def swish(x):
    return x * x.sigmoid()


class SE(nn.Module):
    def __init__(self, in_ch, se_ch):
        super().__init__()
        self.se1 = nn.Conv2d(in_ch, se_ch, 1, bias=True)
        self.se2 = nn.Conv2d(se_ch, in_ch, 1, bias=True)

    def forward(self, x):
        out = F.adaptive_avg_pool2d(x, (1, 1))
        out = swish(self.se1(out))
        return x * self.se2(out).sigmoid()


class EffBlock(nn.Module):
    def __init__(self, in_ch, out_ch, k, stride, expand):
        super().__init__()
        self.stride, self.expand = stride, expand
        ch = expand * in_ch
        self.conv1 = nn.Conv2d(in_ch, ch, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(ch)
        self.conv2 = nn.Conv2d(ch, ch, k, stride, 1 if k == 3 else 2, groups=ch, bias=False)
        self.bn2 = nn.BatchNorm2d(ch)
        self.se = SE(ch, int(in_ch * 0.25))
        self.conv3 = nn.Conv2d(ch, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.has_skip = stride == 1 and in_ch == out_ch

    def forward(self, x):
        out = x if self.expand == 1 else swish(self.bn1(self.conv1(x)))
        out = swish(self.bn2(self.conv2(out)))
        out = self.se(out)
        out = self.bn3(self.conv3(out))
        return out + x if self.has_skip else out


class EfficientNetB0Cifar(nn.Module):
    CFG = dict(blocks=[1, 2, 2, 3, 3, 4, 1], expansion=[1, 6, 6, 6, 6, 6, 6],
               out=[16, 24, 40, 80, 112, 192, 320], kernel=[3, 3, 5, 3, 5, 5, 3],
               stride=[1, 2, 2, 2, 1, 2, 1])

    def __init__(self, num_classes=10, in_ch=3, dropout=0.2):
        super().__init__()
        self.dropout_rate = dropout
        self.conv1 = nn.Conv2d(in_ch, 32, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        c = self.CFG
        layers, cin = [], 32
        for e, o, n, k, s in zip(c["expansion"], c["out"], c["blocks"], c["kernel"], c["stride"]):
            for i in range(n):
                layers.append(EffBlock(cin, o, k, s if i == 0 else 1, e))
                cin = o
        self.layers = nn.Sequential(*layers)
        self.linear = nn.Linear(320, num_classes)

    def forward(self, x):
        out = swish(self.bn1(self.conv1(x)))
        out = self.layers(out)
        out = F.adaptive_avg_pool2d(out, 1).view(x.size(0), -1)
        if self.training and self.dropout_rate > 0:
            out = F.dropout(out, p=self.dropout_rate)
        return self.linear(out)


class SalemCNN(nn.Module):
    def __init__(self, num_classes=10, in_ch=3, size=32):
        super().__init__()
        flat = 32 * (size // 4) * (size // 4)
        self.model = nn.Sequential(nn.Conv2d(in_ch, 32, 5, padding=2), nn.ReLU(),
                                   nn.MaxPool2d(2, 2), nn.Conv2d(32, 32, 5, padding=2), nn.ReLU(),
                                   nn.MaxPool2d(2, 2), nn.Flatten(), nn.Linear(flat, 128),
                                   nn.ReLU())
        self.out = nn.Linear(128, num_classes)

    def forward(self, x):
        return self.out(self.model(x))


class Bottleneck(nn.Module):
    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or inplanes != planes * 4:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes * 4, 1, stride, bias=False),
                                            nn.BatchNorm2d(planes * 4))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet50(nn.Module):
    def __init__(self, num_classes=120, in_ch=3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.inplanes = 64
        self.layer1 = self._make(64, 3, 1)
        self.layer2 = self._make(128, 4, 2)
        self.layer3 = self._make(256, 6, 2)
        self.layer4 = self._make(512, 3, 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(2048, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def _make(self, planes, blocks, stride):
        layers = [Bottleneck(self.inplanes, planes, stride)]
        self.inplanes = planes * 4
        layers += [Bottleneck(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


DEFAULTS = {  # classes, channels, size
    "salem_cnn": (10, 3, 32),
    "resnet18_cifar": (10, 3, 32),
    "efficientnet_b0_cifar": (10, 3, 32),
    "resnet50": (120, 3, 224),
}


def build_model(arch, classes, channels, size, dropout=0.2):
    if arch == "salem_cnn":
        return SalemCNN(classes, channels, size)
    if arch == "resnet18_cifar":
        return ResNet18Cifar(classes, channels)
    if arch == "efficientnet_b0_cifar":
        return EfficientNetB0Cifar(classes, channels, dropout)
    if arch == "resnet50":
        return ResNet50(classes, channels)
    raise SystemExit("unknown arch " + arch)


# ---- safetensors writer (struct + json; same layout rules as tools/pt2safetensors.py) --------

DT = {torch.float32: "F32", torch.int64: "I64"}


def write_safetensors(path, tensors, metadata=None):
    header, chunks, off = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        data = t.numpy().tobytes()
        header[name] = {"dtype": DT[t.dtype], "shape": list(t.shape),
                        "data_offsets": [off, off + len(data)]}
        chunks.append(data)
        off += len(data)
    if metadata:
        header["__metadata__"] = metadata
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * ((8 - len(head) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for c in chunks:
            f.write(c)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("arch")
    ap.add_argument("outdir")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--channels", type=int)
    ap.add_argument("--size", type=int)
    ap.add_argument("--classes", type=int)
    ap.add_argument("--seed", type=int, default=1234)
    a = ap.parse_args()
    k0, c0, s0 = DEFAULTS[a.arch]
    k, c, s = a.classes or k0, a.channels or c0, a.size or s0
    torch.manual_seed(a.seed)
    torch.set_num_threads(1)
    torch.backends.mkldnn.enabled = False  # plain aten kernels: the reference, not oneDNN again
    model = build_model(a.arch, k, c, s, dropout=0.0)
    g = torch.Generator().manual_seed(a.seed + 1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(1.0 + 0.2 * (torch.rand(n, generator=g) - 0.5))
                m.bias.copy_(0.1 * torch.randn(n, generator=g))
                m.running_mean.copy_(0.1 * torch.randn(n, generator=g))
                m.running_var.copy_(1.0 + 0.5 * torch.rand(n, generator=g))
    os.makedirs(a.outdir, exist_ok=True)
    sd = {n: t.clone() for n, t in model.state_dict().items()}
    meta = {"arch": a.arch, "classes": str(k), "input": "%d,%d,%d" % (c, s, s),
            "batch": str(a.batch), "seed": str(a.seed), "torch": torch.__version__}
    write_safetensors(os.path.join(a.outdir, a.arch + ".weights.safetensors"), sd, meta)

    x = torch.randn(a.batch, c, s, s, generator=g)
    labels = torch.randint(0, k, (a.batch,), generator=g)
    # The reference is the same model run in float64 (stored rounded to f32); the float32 PyTorch
    # run gives, per tensor, PyTorch's own error against it (pt32err.<key>), so the test can tell
    # ill-conditioned tensors (deep train-mode BN stacks, gradients that are exactly zero in exact
    # arithmetic) from libmia errors.
    # ReLU inputs so close to 0 that float32 cannot decide their sign (|v| < KINK_MARGIN * rms of
    # that ReLU's input, counted in the float64 train-mode forward): a float32 implementation
    # that rounds one of them to the other side changes that unit's gradient from 0 to dy or
    # back, and with it every gradient upstream by up to a few 1e-3 although it computes
    # correctly. The test widens its gradient bound when there are any (kinks.count).
    KINK_MARGIN = 1e-5
    kinks = [0]
    relu = F.relu

    def counting_relu(t, inplace=False):
        if t.dtype == torch.float64 and t.numel() > 0:
            v = t.detach()
            rms = v.pow(2).mean().sqrt()
            kinks[0] += int((v.abs() < KINK_MARGIN * rms).sum().item())
        return relu(t, inplace=inplace)

    runs = {}
    for dt in (torch.float64, torch.float32):
        mm = copy.deepcopy(model).to(dt)
        xx = x.to(dt)
        mm.eval()
        with torch.no_grad():
            le = mm(xx)
        mm.train()
        F.relu = counting_relu
        try:
            lt = mm(xx)
        finally:
            F.relu = relu
        F.cross_entropy(lt, labels).backward()
        r = {"logits_eval": le, "logits_train": lt}
        for n, p in mm.named_parameters():
            if p.grad is not None:  # EfficientNet block 0's conv1/bn1 never run: grad None
                r["grad." + n] = p.grad
        for n, b in mm.named_buffers():
            r["after." + n] = b
        runs[dt] = r
    exp = {"x": x, "labels": labels, "kinks.count": torch.tensor([kinks[0]], dtype=torch.int64)}
    for key, t64 in runs[torch.float64].items():
        t32 = runs[torch.float32][key]
        if t64.dtype == torch.int64:
            exp[key] = t64
            continue
        exp[key] = t64.detach().float()
        d = (t32.detach().double() - t64.detach()).norm().item()
        ref = t64.detach().norm().item()
        exp["pt32err." + key] = torch.tensor([d / ref if ref > 0 else d], dtype=torch.float32)
    write_safetensors(os.path.join(a.outdir, a.arch + ".expected.safetensors"), exp, meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
