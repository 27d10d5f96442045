#!/usr/bin/python3
"""Convert a StyleGAN2-ADA network pickle (NVlabs/stylegan2-ada-pytorch) to safetensors.

    stylegan2-pkl-to-safetensors.py NETWORK.pkl OUT.safetensors [--network G_ema]

The official pickles store each network as a torch_utils.persistence object whose normal
unpickling exec()s the embedded networks.py source. This converter never does: it uses a
RESTRICTED pickle.Unpickler that maps the persistence reconstructor to a stub returning the
pickled `meta` dict, admits only tensor/storage rebuilding (storages are decoded from their
nested legacy torch.save blobs by this script, again with a restricted unpickler), OrderedDict,
set/frozenset and EasyDict (-> dict), and turns every other global (torch.nn classes,
numpy scalars, ...) into an inert placeholder object. No NVIDIA code is needed or run.

Output: every parameter and buffer of the selected network under its state_dict key
("mapping.fc0.weight", "synthesis.b4.const", "synthesis.b8.conv0.noise_const", ...), and
`__metadata__` {"init_kwargs": JSON of the network's _init_kwargs plus z_dim, c_dim, w_dim,
img_resolution, img_channels; "source_sha256": SHA-256 of the pickle; "format":
"stylegan2-ada"}. Written with tools/pt2safetensors.py's writer (atomic replace).
Exit status: 0 success, 1 bad input, 2 usage.
"""
import argparse
import collections
import hashlib
import io
import json
import os
import pickle
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt2safetensors  # noqa: E402

LEGACY_MAGIC = 0x1950a86a20f9469cfc6c
STORAGE_DTYPES = {
    "FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
    "ByteStorage": "uint8", "ShortStorage": "int16", "CharStorage": "int8",
    "BoolStorage": "bool",
}


class ConvertError(Exception):
    pass


class Persistent:
    """Stands for a torch_utils.persistence object: holds its meta dict, never runs it."""

    def __init__(self, meta):
        if not isinstance(meta, dict):
            raise ConvertError("persistent object without a meta dict")
        self.meta = meta
        self.state = meta.get("state") or {}


class Inert:
    """Placeholder for any other global (torch.nn modules, numpy scalars...)."""

    def __init__(self, *args, **kwargs):
        self.state = {}

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots)
            state = state[0] or {}
        self.state = state if isinstance(state, dict) else {}

    def __call__(self, *args, **kwargs):
        return Inert()


def _inert_factory(*args, **kwargs):
    return Inert()


class _StorageType:
    def __init__(self, name):
        self.dtype = STORAGE_DTYPES[name]


def _load_from_bytes(blob):
    """Decode a legacy torch.save blob (5 pickles + raw storages) without torch.load."""
    import torch
    f = io.BytesIO(blob)
    made = {}

    class Legacy(pickle.Unpickler):
        def find_class(self, module, name):
            if module == "torch" and name in STORAGE_DTYPES:
                return _StorageType(name)
            if module == "collections" and name == "OrderedDict":
                return collections.OrderedDict
            raise ConvertError(f"storage blob refers to {module}.{name}, which is not allowed")

        def persistent_load(self, pid):
            if not (isinstance(pid, tuple) and pid and pid[0] == "storage" and len(pid) >= 5):
                raise ConvertError(f"unsupported persistent id in storage blob: {pid!r}")
            st, key, numel = pid[1], str(pid[2]), int(pid[4])
            if not isinstance(st, _StorageType):
                raise ConvertError("storage blob: bad storage type")
            if key not in made:
                made[key] = torch.empty(numel, dtype=getattr(torch, st.dtype))
            return made[key].storage()

    if Legacy(f).load() != LEGACY_MAGIC:
        raise ConvertError("storage blob: bad magic number")
    Legacy(f).load()  # protocol version
    sys_info = Legacy(f).load()
    if isinstance(sys_info, dict) and not sys_info.get("little_endian", True):
        raise ConvertError("storage blob: big-endian data is not supported")
    obj = Legacy(f).load()
    keys = Legacy(f).load()
    for key in keys:
        key = str(key)
        raw = f.read(8)
        if len(raw) != 8 or key not in made:
            raise ConvertError("storage blob truncated")
        numel = struct.unpack("<q", raw)[0]
        t = made[key]
        nbytes = numel * t.element_size()
        data = f.read(nbytes)
        if numel != t.numel() or len(data) != nbytes:
            raise ConvertError("storage blob truncated")
        if numel:
            t.copy_(torch.frombuffer(bytearray(data), dtype=t.dtype))
    return obj


def _rebuild_tensor_v2(storage, offset, size, stride, *unused):
    import torch
    t = torch.empty(0, dtype=storage.dtype)
    t.set_(storage, offset, tuple(size), tuple(stride))
    return t


def _latin1_encode(text, encoding="utf-8"):
    """Protocol-2 pickles store bytes as _codecs.encode(str, 'latin1'); nothing else."""
    if not isinstance(text, str) or encoding != "latin1":
        raise ConvertError("pickle uses _codecs.encode other than for latin1 bytes")
    return text.encode("latin1")


def _rebuild_parameter(data, *unused):
    return data


class Restricted(pickle.Unpickler):
    def find_class(self, module, name):
        if module == "torch_utils.persistence" and name == "_reconstruct_persistent_obj":
            return Persistent
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch._utils" and name in ("_rebuild_parameter",
                                                 "_rebuild_parameter_with_state"):
            return _rebuild_parameter
        if module == "torch.storage" and name == "_load_from_bytes":
            return _load_from_bytes
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "_codecs" and name == "encode":
            return _latin1_encode
        if module in ("builtins", "__builtin__") and name in ("set", "frozenset"):
            return {"set": set, "frozenset": frozenset}[name]
        if module == "dnnlib.util" and name == "EasyDict":
            return dict
        if module == "copyreg" and name == "_reconstructor":
            return _inert_factory
        return Inert  # anything else: inert, never executed

    def persistent_load(self, pid):
        raise ConvertError("unexpected persistent id in a network pickle")


def collect(obj, prefix, out):
    import torch
    state = obj.state if isinstance(obj, (Persistent, Inert)) else {}
    for group in ("_parameters", "_buffers"):
        for k, v in (state.get(group) or {}).items():
            if v is None:
                continue
            if not isinstance(v, torch.Tensor):
                raise ConvertError(f"{prefix}{k}: not a tensor")
            out[prefix + k] = v.detach().contiguous()
    for k, child in (state.get("_modules") or {}).items():
        if child is not None:
            collect(child, prefix + k + ".", out)


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (bool, int, float, str)) or v is None:
        return v
    return str(v)


def convert(pkl_path, out_path, network="G_ema"):
    with open(pkl_path, "rb") as f:
        data = f.read()
    try:
        top = Restricted(io.BytesIO(data)).load()
    except ConvertError:
        raise
    except Exception as e:  # malformed pickle
        raise ConvertError(f"{pkl_path}: cannot read the pickle: {e}") from None
    if not isinstance(top, dict) or network not in top:
        raise ConvertError(f"{pkl_path}: no '{network}' network in the pickle")
    net = top[network]
    if not isinstance(net, Persistent):
        raise ConvertError(f"{pkl_path}: '{network}' is not a torch_utils.persistence object")
    tensors = collections.OrderedDict()
    collect(net, "", tensors)
    if not tensors:
        raise ConvertError(f"{pkl_path}: '{network}' holds no tensors")
    st = net.state
    kw = dict(_jsonable(st.get("_init_kwargs") or {}))
    for k in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels"):
        if k in st:
            kw[k] = _jsonable(st[k])
    meta = {"init_kwargs": json.dumps(kw, sort_keys=True), "format": "stylegan2-ada",
            "network": network, "class_name": str(net.meta.get("class_name")),
            "source_sha256": hashlib.sha256(data).hexdigest()}
    head, chunks = pt2safetensors.build(tensors, meta)
    pt2safetensors.write_atomic(out_path, head, chunks)
    return len(tensors)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input", help="StyleGAN2-ADA network pickle (.pkl)")
    ap.add_argument("output", help="safetensors file to write")
    ap.add_argument("--network", default="G_ema", help="which network (default G_ema)")
    a = ap.parse_args(argv)
    try:
        n = convert(a.input, a.output, a.network)
    except (ConvertError, pt2safetensors.ConvertError, OSError) as e:
        print(f"stylegan2-pkl-to-safetensors: {e}", file=sys.stderr)
        return 1
    print(f"wrote {n} tensors to {a.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
