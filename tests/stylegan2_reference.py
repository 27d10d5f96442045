#!/usr/bin/python3
"""PyTorch reference of the StyleGAN2(-ADA) generator, for libmia's equivalence tests.

Written from the published architecture description (Karras et al., "Analyzing and Improving
the Image Quality of StyleGAN", CVPR 2020, and "Training Generative Adversarial Networks with
Limited Data", NeurIPS 2020: mapping network with lr multiplier 0.01 and 2nd-moment
normalisation, class embedding, w averaging / truncation, weight modulation + demodulation,
noise inputs, FIR [1,3,3,1] up-sampling, skip generator with toRGB outputs, conv clamping);
this is not NVIDIA's code. Every op is written plainly (per-sample convolutions, explicit
zero-insertion up-sampling), so it doubles as a readable specification.

Sub-commands (all outputs are safetensors written with tools/pt2safetensors.py's writer):
  weights CONFIG SEED OUT             random weights, tensor names = G_ema.state_dict() keys
  generate WEIGHTS OUT N SEED PSI NOISE   z ~ randn(N, z_dim) (torch.manual_seed(SEED)),
                                      class i % c_dim, NOISE in {const, none}; writes z, cls,
                                      img (f32 NCHW) and img_u8 (NHWC, the paper's conversion)
  pickle CONFIG SEED OUT.pkl OUT.safetensors
                                      a fake network pickle in the torch_utils.persistence
                                      layout (G_ema is a persistent-object tree) + the expected
                                      conversion
"""
import collections
import json
import math
import os
import pickle
import struct
import sys
import types

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import pt2safetensors  # noqa: E402  (safetensors writer)

CONFIGS = {
    # name: z_dim, w_dim, c_dim, resolution, mapping layers, channel_base, channel_max, conv_clamp
    "cifar10": dict(z_dim=512, w_dim=512, c_dim=10, img_resolution=32, img_channels=3,
                    mapping_kwargs=dict(num_layers=2),
                    synthesis_kwargs=dict(channel_base=32768, channel_max=512, num_fp16_res=4,
                                          conv_clamp=256, architecture="skip")),
    "cifar10-small": dict(z_dim=64, w_dim=64, c_dim=10, img_resolution=32, img_channels=3,
                          mapping_kwargs=dict(num_layers=2),
                          synthesis_kwargs=dict(channel_base=512, channel_max=32, num_fp16_res=4,
                                                conv_clamp=256, architecture="skip")),
    "afhqdog": dict(z_dim=512, w_dim=512, c_dim=0, img_resolution=512, img_channels=3,
                    mapping_kwargs=dict(num_layers=8),
                    synthesis_kwargs=dict(channel_base=32768, channel_max=512, num_fp16_res=4,
                                          conv_clamp=256, architecture="skip")),
    "afhqdog-small": dict(z_dim=64, w_dim=64, c_dim=0, img_resolution=64, img_channels=3,
                          mapping_kwargs=dict(num_layers=8),
                          synthesis_kwargs=dict(channel_base=1024, channel_max=64, num_fp16_res=4,
                                                conv_clamp=4.0, architecture="skip")),
}
LRELU_GAIN = math.sqrt(2.0)


def fir_filter():
    f = torch.tensor([1.0, 3.0, 3.0, 1.0])
    f = f[:, None] * f[None, :]
    return f / f.sum()


def lrelu(x, gain):
    return F.leaky_relu(x, 0.2) * gain


def fc(x, p, prefix, lr_mul, act):
    """Equalised-lr dense layer: y = x (W * lr_mul/sqrt(in))^T + b * lr_mul."""
    w = p[prefix + ".weight"]
    b = p[prefix + ".bias"]
    y = x @ (w * (lr_mul / math.sqrt(w.shape[1]))).t() + b * lr_mul
    return lrelu(y, LRELU_GAIN) if act else y


def norm2(x):
    return x * (x.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()


def upfir2x(x, f):
    """Zero-insertion 2x up-sampling, pad (2, 1), true convolution with 4*f (one image batch)."""
    n, c, h, w = x.shape
    up = torch.zeros(n, c, 2 * h, 2 * w, dtype=x.dtype)
    up[:, :, 0::2, 0::2] = x
    up = F.pad(up, (2, 1, 2, 1))
    k = (f * 4.0).flip([0, 1])[None, None].repeat(c, 1, 1, 1)
    return F.conv2d(up, k, groups=c)


def synth_layer(x, wvec, p, prefix, up, noise_mode, clamp):
    """Modulated 3x3 conv (with demodulation), optional 2x up-sampling, noise, bias, lrelu."""
    styles = fc(wvec, p, prefix + ".affine", 1.0, False)            # [N, I]
    weight = p[prefix + ".weight"]                                   # [O, I, 3, 3]
    outs = []
    for i in range(x.shape[0]):
        wi = weight * styles[i].reshape(1, -1, 1, 1)
        wi = wi * (wi.square().sum(dim=[1, 2, 3]) + 1e-8).rsqrt().reshape(-1, 1, 1, 1)
        xi = x[i:i + 1]
        if up:
            # transposed conv (stride 2, no padding) with the weight as [I, O, k, k], then the FIR
            y = F.conv_transpose2d(xi, wi.transpose(0, 1), stride=2)
            n_, c_, h_, w_ = y.shape
            k = (fir_filter() * 4.0).flip([0, 1])[None, None].repeat(c_, 1, 1, 1)
            y = F.conv2d(F.pad(y, (1, 1, 1, 1)), k, groups=c_)
        else:
            y = F.conv2d(xi, wi, padding=1)
        outs.append(y)
    x = torch.cat(outs, 0)
    if noise_mode == "const":
        x = x + p[prefix + ".noise_const"][None, None] * p[prefix + ".noise_strength"]
    x = x + p[prefix + ".bias"].reshape(1, -1, 1, 1)
    x = lrelu(x, LRELU_GAIN)
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x


def torgb(x, wvec, p, prefix, clamp):
    weight = p[prefix + ".weight"]                                   # [C, I, 1, 1]
    styles = fc(wvec, p, prefix + ".affine", 1.0, False) / math.sqrt(weight.shape[1])
    outs = [F.conv2d(x[i:i + 1], weight * styles[i].reshape(1, -1, 1, 1)) for i in range(x.shape[0])]
    x = torch.cat(outs, 0) + p[prefix + ".bias"].reshape(1, -1, 1, 1)
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x


def channels(cfg, res):
    s = cfg["synthesis_kwargs"]
    return min(s["channel_base"] // res, s["channel_max"])


def resolutions(cfg):
    return [2 ** i for i in range(2, int(math.log2(cfg["img_resolution"])) + 1)]


def num_ws(cfg):
    r = resolutions(cfg)
    return 1 + 2 * (len(r) - 1) + 1


def generate(p, cfg, z, cls, psi, noise_mode):
    # mapping network
    x = norm2(z) if cfg["z_dim"] > 0 else None
    if cfg["c_dim"] > 0:
        c = torch.zeros(z.shape[0], cfg["c_dim"])
        c[torch.arange(z.shape[0]), cls] = 1.0
        y = norm2(fc(c, p, "mapping.embed", 1.0, False))
        x = torch.cat([x, y], 1) if x is not None else y
    for i in range(cfg["mapping_kwargs"]["num_layers"]):
        x = fc(x, p, f"mapping.fc{i}", 0.01, True)
    if psi != 1.0:
        x = p["mapping.w_avg"] + psi * (x - p["mapping.w_avg"])
    ws = [x] * num_ws(cfg)
    clamp = cfg["synthesis_kwargs"]["conv_clamp"]
    # synthesis network, 'skip' architecture
    img = None
    wi = 0
    for res in resolutions(cfg):
        pre = f"synthesis.b{res}"
        if res == 4:
            h = p[pre + ".const"][None].repeat(z.shape[0], 1, 1, 1)
            h = synth_layer(h, ws[wi], p, pre + ".conv1", False, noise_mode, clamp)
            wi += 1
        else:
            h = synth_layer(h, ws[wi], p, pre + ".conv0", True, noise_mode, clamp)
            h = synth_layer(h, ws[wi + 1], p, pre + ".conv1", False, noise_mode, clamp)
            wi += 2
        if img is not None:
            img = upfir2x(img, fir_filter())
        rgb = torgb(h, ws[wi], p, pre + ".torgb", clamp)
        img = rgb if img is None else img + rgb
    return img


def to_u8(img):
    return (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)


def random_weights(cfg, seed):
    g = torch.Generator().manual_seed(seed)

    def rn(*shape, s=1.0):
        return torch.randn(*shape, generator=g) * s

    p = collections.OrderedDict()
    zd, wd, cd = cfg["z_dim"], cfg["w_dim"], cfg["c_dim"]
    if cd > 0:
        p["mapping.embed.weight"] = rn(wd, cd)
        p["mapping.embed.bias"] = rn(wd, s=0.1)
    fin = zd + (wd if cd > 0 else 0)
    for i in range(cfg["mapping_kwargs"]["num_layers"]):
        p[f"mapping.fc{i}.weight"] = rn(wd, fin) / 0.01
        p[f"mapping.fc{i}.bias"] = rn(wd, s=0.1)
        fin = wd
    p["mapping.w_avg"] = rn(wd, s=0.3)
    cin = 0
    for res in resolutions(cfg):
        pre = f"synthesis.b{res}"
        cout = channels(cfg, res)
        if res == 4:
            p[pre + ".const"] = rn(cout, 4, 4)
        layers = [("conv1", cout)] if res == 4 else [("conv0", cin), ("conv1", cout)]
        for name, lin in layers:
            q = f"{pre}.{name}"
            p[q + ".weight"] = rn(cout, lin, 3, 3)
            p[q + ".bias"] = rn(cout, s=0.2)
            p[q + ".noise_strength"] = rn(1, s=0.3).reshape([])
            p[q + ".affine.weight"] = rn(lin, wd)
            p[q + ".affine.bias"] = 1.0 + rn(lin, s=0.1)
            p[q + ".noise_const"] = rn(res, res)
            if name == "conv0":
                p[q + ".resample_filter"] = fir_filter()
        p[pre + ".torgb.weight"] = rn(cfg["img_channels"], cout, 1, 1)
        p[pre + ".torgb.bias"] = rn(cfg["img_channels"], s=0.1)
        p[pre + ".torgb.affine.weight"] = rn(cout, wd)
        p[pre + ".torgb.affine.bias"] = 1.0 + rn(cout, s=0.1)
        if res > 4:
            p[pre + ".resample_filter"] = fir_filter()
        cin = cout
    return p


def init_kwargs(cfg):
    return json.dumps(cfg, sort_keys=True)


def write(path, tensors, meta=None):
    head, chunks = pt2safetensors.build(tensors, meta or {})
    pt2safetensors.write_atomic(path, head, chunks)


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    hdr = json.loads(data[8:8 + n])
    meta = hdr.pop("__metadata__", {})
    dt = {"F32": np.float32, "I32": np.int32, "U8": np.uint8, "I64": np.int64}
    out = {}
    for k, v in hdr.items():
        a, b = v["data_offsets"]
        arr = np.frombuffer(data[8 + n + a:8 + n + b], dtype=dt[v["dtype"]]).reshape(v["shape"])
        out[k] = torch.from_numpy(arr.copy())
    return out, meta


# ---- fake network pickle in the torch_utils.persistence layout -----------------------------
def _install_fake_persistence():
    tu = types.ModuleType("torch_utils")
    per = types.ModuleType("torch_utils.persistence")

    def _reconstruct_persistent_obj(meta):  # never called here: only its name is pickled
        raise RuntimeError("not for loading")
    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    per._reconstruct_persistent_obj = _reconstruct_persistent_obj
    tu.persistence = per
    sys.modules["torch_utils"] = tu
    sys.modules["torch_utils.persistence"] = per
    return _reconstruct_persistent_obj


class _Persistent:
    """Pickles like a torch_utils.persistence object: (_reconstruct_persistent_obj, (meta,))."""

    def __init__(self, fn, class_name, state):
        self.fn, self.class_name, self.state = fn, class_name, state

    def __reduce__(self):
        meta = dict(type="class", version=6, module_src="raise SystemExit('executed!')\n",
                    class_name=self.class_name, state=self.state)
        return (self.fn, (meta,))


def _module_state(fn, class_name, params, buffers, children, attrs):
    st = dict(training=False, _parameters=collections.OrderedDict(),
              _buffers=collections.OrderedDict(), _non_persistent_buffers_set=set(),
              _backward_hooks=collections.OrderedDict(), _forward_hooks=collections.OrderedDict(),
              _forward_pre_hooks=collections.OrderedDict(), _state_dict_hooks=collections.OrderedDict(),
              _load_state_dict_pre_hooks=collections.OrderedDict(), _modules=collections.OrderedDict())
    for k, v in params.items():
        st["_parameters"][k] = torch.nn.Parameter(v.clone(), requires_grad=False)
    for k, v in buffers.items():
        st["_buffers"][k] = v.clone()
    for k, v in children.items():
        st["_modules"][k] = v
    st.update(attrs)
    return _Persistent(fn, class_name, st)


def build_pickle(p, cfg):
    fn = _install_fake_persistence()
    BUFFERS = ("w_avg", "noise_const", "resample_filter")

    def tree(prefix, depth_names):
        # split names under prefix into own tensors and children
        own_p, own_b, kids = {}, {}, collections.OrderedDict()
        for name in depth_names:
            rest = name[len(prefix):] if prefix else name
            head, _, tail = rest.partition(".")
            if not tail:
                (own_b if head in BUFFERS else own_p)[head] = p[name]
            else:
                kids.setdefault(head, []).append(name)
        children = collections.OrderedDict()
        for k, names in kids.items():
            children[k] = tree((prefix + k + "."), names)
        return _module_state(fn, "Module", own_p, own_b, children, dict(depth=len(prefix)))

    g = tree("", list(p.keys()))
    g.class_name = "Generator"
    g.state.update(dict(z_dim=cfg["z_dim"], c_dim=cfg["c_dim"], w_dim=cfg["w_dim"],
                        img_resolution=cfg["img_resolution"], img_channels=cfg["img_channels"],
                        _init_args=(), _init_kwargs=dict(cfg)))
    return {"training_set_kwargs": dict(resolution=cfg["img_resolution"]), "G": g, "D": None,
            "G_ema": g, "augment_pipe": None}


def main(argv):
    torch.set_num_threads(2)
    cmd = argv[1]
    if cmd == "weights":
        cfg = CONFIGS[argv[2]]
        write(argv[4], random_weights(cfg, int(argv[3])), {"init_kwargs": init_kwargs(cfg)})
    elif cmd == "generate":
        p, meta = read(argv[2])
        cfg = json.loads(meta["init_kwargs"])
        n, seed, psi, noise = int(argv[4]), int(argv[5]), float(argv[6]), argv[7]
        torch.manual_seed(seed)
        z = torch.randn(n, cfg["z_dim"])
        cls = torch.arange(n, dtype=torch.int32) % max(cfg["c_dim"], 1)
        with torch.no_grad():
            img = generate(p, cfg, z, cls.long(), psi, noise)
        write(argv[3], collections.OrderedDict(z=z, cls=cls, img=img.contiguous(),
                                                img_u8=to_u8(img).contiguous()),
              {"psi": repr(psi), "noise": noise})
    elif cmd == "pickle":
        cfg = CONFIGS[argv[2]]
        p = random_weights(cfg, int(argv[3]))
        with open(argv[4], "wb") as f:
            pickle.dump(build_pickle(p, cfg), f, protocol=2)
        write(argv[5], p, {"init_kwargs": init_kwargs(cfg)})
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
