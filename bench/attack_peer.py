#!/usr/bin/python3
"""Peer for bench-attack: the paper's attack algorithms in numpy/sklearn/scipy on the same
scores, timed in-process (fit + evaluate with all metrics), printed as 'peer <attack> <sec>'.

Usage: attack_peer.py DIR ATTACK   (DIR holds {shadow,target}_{mem,non}.f32 / .i32 and meta.txt
written by bench-attack; ATTACK is threshold | entropy | loss)
"""
import os
import sys
import time

import numpy as np
from scipy.stats import beta
from sklearn.metrics import auc, precision_recall_curve, roc_auc_score, roc_curve

EPS = np.float32(np.finfo(np.float32).eps)


def load(d, name, n, c):
    p = np.fromfile(os.path.join(d, name + ".f32"), dtype=np.float32).reshape(n, c)
    y = np.fromfile(os.path.join(d, name + ".i32"), dtype=np.int32)
    return p, y


def entropy(p):
    q = p / p.sum(1, keepdims=True)
    return -(q * np.log(np.clip(q, EPS, 1 - EPS))).sum(1)


def loss(p, y):
    # libmia's default LOSS: -log(p_y / sum p) in float64, no upper clamp (paper_exact keeps
    # the float32 clamp to [eps, 1 - eps]); floored at the smallest normal double
    q = p[np.arange(len(y)), y] / p.sum(1, dtype=np.float64)
    return -np.log(np.maximum(q, np.finfo(np.float64).tiny))


def youden(sm, sn):
    labels = np.r_[np.zeros(len(sn)), np.ones(len(sm))]
    fpr, tpr, thr = roc_curve(labels, np.r_[sn, sm])
    return thr[np.argmax(tpr - fpr)]


def cp(k, n):
    lo = 0.0 if k == 0 else beta.ppf(0.025, k, n - k + 1)
    hi = 1.0 if k == n else beta.ppf(0.975, k + 1, n - k)
    return lo, hi


def evaluate(sm, sn, pm, pn, mm, mn):
    tp, fp = int(pm.sum()), int(pn.sum())
    fn, tn = len(pm) - tp, len(pn) - fp
    out = {"precision": tp / (tp + fp) if tp else 0.0, "recall": tp / len(pm),
           "fpr": 1 - tn / len(pn), "accuracy": (tp + tn) / (len(pm) + len(pn))}
    labels = np.r_[np.zeros(len(sn)), np.ones(len(sm))]
    scores = np.r_[sn, sm]
    out["auroc"] = roc_auc_score(labels, scores)
    prec, rec, _ = precision_recall_curve(labels, scores)
    k = np.searchsorted(-rec, -1.0, side="right")  # recall == 1 prefix
    out["aupr"] = auc(rec[k - 1:], prec[k - 1:])
    f, t, _ = roc_curve(labels, scores, drop_intermediate=False)
    out["fpr95"] = f[np.argmax(t >= 0.95)]
    for name, m, s in (("tp", mm, pm), ("fn", mm, ~pm), ("fp", mn, pn), ("tn", mn, ~pn)):
        out[name + "_mmps"] = m[s].mean() if s.any() else 0.0
    for target in (0.1, 0.01, 0.001, 1e-4, 1e-5):
        if target * len(pn) < 1:
            continue
        i = np.searchsorted(f, target, side="right") - 1
        ktp = int(round(t[i] * len(pm)))
        out["tpr@%g" % target] = (t[i],) + cp(ktp, len(pm))
    return out


def salem(d, n, c):
    """The paper's Salem attack training (spec 5.2) in PyTorch on the first 2,500 shadow members
    and non-members: top-3 -> MLP 3-64-1, BCEWithLogits, Adam 0.01, batch 16, early stop."""
    import torch
    torch.set_num_threads(1)  # fastest for 16x3 batches (tried 1 and 2)
    torch.manual_seed(42)
    sm, _ = load(d, "shadow_mem", n, c)
    sn, _ = load(d, "shadow_non", n, c)
    k = min(2500, n)
    t0 = time.perf_counter()
    x = torch.from_numpy(np.r_[sn[:k], sm[:k]]).sort(1, descending=True)[0][:, :3].contiguous()
    y = torch.cat([torch.zeros(k), torch.ones(k)]).unsqueeze(1)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16,
                                         shuffle=True)
    model = torch.nn.Sequential(torch.nn.Linear(3, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    crit = torch.nn.BCEWithLogitsLoss()
    best, count, epochs = float("inf"), 0, 0
    while True:
        running = 0.0
        for xb, yb in loader:
            opt.zero_grad()
            loss = crit(model(xb), yb)
            loss.backward()
            opt.step()
            running += loss.item() * xb.size(0)
        epochs += 1
        v = running / len(x)
        if best <= v + 0.0005 and count >= 15:
            break
        elif v < best and best - v >= 0.0005:
            best, count = v, 0
        count += 1
    dt = time.perf_counter() - t0
    print("peer salem %.6f epochs %d loss %.6f" % (dt, epochs, v))


def main():
    d, attack = sys.argv[1], sys.argv[2]
    if attack == "salem":
        n, c = (int(v) for v in open(os.path.join(d, "meta.txt")).read().split())
        salem(d, n, c)
        return
    n, c = (int(v) for v in open(os.path.join(d, "meta.txt")).read().split())
    sm, ysm = load(d, "shadow_mem", n, c)
    sn, ysn = load(d, "shadow_non", n, c)
    tm, ytm = load(d, "target_mem", n, c)
    tn, ytn = load(d, "target_non", n, c)
    t0 = time.perf_counter()
    if attack == "threshold":
        tau = youden(sm.max(1), sn.max(1))
        am, an = tm.max(1), tn.max(1)
        pm, pn = am > tau, an > tau
    elif attack == "loss":
        tau = youden(-loss(sm, ysm), -loss(sn, ysn))
        am, an = -loss(tm, ytm), -loss(tn, ytn)
        pm, pn = am > tau, an > tau
    else:  # the paper's 10,000-point scan
        hm, hn = entropy(sm), entropy(sn)
        allh = np.r_[hn, hm]
        best, theta = 0, 0.0
        for th in np.linspace(allh.min(), allh.max(), 10000):
            t32 = np.float32(th)
            correct = int((hn >= t32).sum()) + int((hm < t32).sum())
            if correct > best:
                best, theta = correct, th
        em, en = entropy(tm), entropy(tn)
        pm, pn = em < np.float32(theta), en < np.float32(theta)
        am, an = -em, -en
    m = evaluate(am, an, pm, pn, tm.max(1), tn.max(1))
    dt = time.perf_counter() - t0
    print("peer %s %.6f auroc %.6f fpr %.6f" % (attack, dt, m["auroc"], m["fpr"]))


if __name__ == "__main__":
    main()
