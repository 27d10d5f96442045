#!/usr/bin/python3
"""Convert a PyTorch state_dict (.pt / .pth) to a safetensors file that libmia can load.

    pt2safetensors.py IN.pt OUT.safetensors [--metadata KEY=VALUE ...] [--key NAME]

The checkpoint is loaded with torch.load(weights_only=True) (torch >= 1.13), or, on older
torch, with a restricted unpickler that only admits tensors, storages and plain containers, so
a malicious pickle cannot run code. The output is written with struct + json (no safetensors
package): tensor names are the state_dict keys unchanged ('layer1.0.bn1.running_mean',
'...num_batches_tracked' stays I64), the reference writer's layout (tensors sorted by
descending dtype order then name, header padded with spaces to a multiple of 8), and the file
is replaced atomically (temp file, fsync, rename, fsync directory).

Supported dtypes (those libmia reads): float32 F32, float64 F64, float16 F16, bfloat16 BF16,
int64 I64, int32 I32, uint8 U8. Others (bool, int8, int16, complex, quantized) are refused by
name. Exit status: 0 success, 1 bad input, 2 usage.
"""
import argparse
import collections
import json
import os
import pickle
import struct
import sys
import tempfile

# torch dtype name -> (safetensors dtype, reference Dtype enum position used by the layout sort)
DTYPES = {
    "torch.float32": ("F32", 15),
    "torch.float64": ("F64", 17),
    "torch.float16": ("F16", 11),
    "torch.bfloat16": ("BF16", 12),
    "torch.int64": ("I64", 18),
    "torch.int32": ("I32", 13),
    "torch.uint8": ("U8", 4),
}
MAX_HEADER = 100_000_000


class ConvertError(Exception):
    pass


def _load_restricted(path):
    """Read a torch zip checkpoint without torch.load: a pickle.Unpickler that admits only
    OrderedDict, tensor rebuilding and storage types, with storages read from the archive."""
    import zipfile

    import torch
    storages = {
        "FloatStorage": torch.float32, "DoubleStorage": torch.float64,
        "HalfStorage": torch.float16, "BFloat16Storage": torch.bfloat16,
        "LongStorage": torch.int64, "IntStorage": torch.int32, "ByteStorage": torch.uint8,
        "ShortStorage": torch.int16, "CharStorage": torch.int8, "BoolStorage": torch.bool,
    }
    if not zipfile.is_zipfile(path):
        raise ConvertError("not a zip-format torch checkpoint (legacy files need torch >= 1.13 "
                           "for a safe load)")
    zf = zipfile.ZipFile(path)
    pkl = [n for n in zf.namelist() if n.endswith("data.pkl")]
    if len(pkl) != 1:
        raise ConvertError("the archive does not hold exactly one data.pkl")
    prefix = pkl[0][: -len("data.pkl")]
    cache = {}

    def rebuild_tensor(storage, offset, size, stride, *unused):
        return torch.as_strided(storage, tuple(size), tuple(stride), offset)

    def rebuild_parameter(data, requires_grad, hooks):
        return data

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) == ("collections", "OrderedDict"):
                return collections.OrderedDict
            if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
                return rebuild_tensor
            if (module, name) == ("torch._utils", "_rebuild_parameter"):
                return rebuild_parameter
            if module == "torch" and name in storages:
                return storages[name]
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: not part of a "
                                         "plain state_dict")

        def persistent_load(self, pid):
            if not isinstance(pid, tuple) or len(pid) < 3 or pid[0] != "storage":
                raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
            dtype, key = pid[1], str(pid[2])
            if not isinstance(dtype, torch.dtype):
                raise pickle.UnpicklingError(f"unexpected storage type {dtype!r}")
            if key not in cache:
                raw = bytearray(zf.read(prefix + "data/" + key))
                cache[key] = (torch.frombuffer(raw, dtype=dtype) if raw
                              else torch.empty(0, dtype=dtype))
            return cache[key]

    with zf.open(pkl[0]) as f:
        return Unpickler(f).load()


def load_checkpoint(path, force_restricted=False):
    import torch
    if not force_restricted:
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except TypeError as e:  # torch < 1.13 has no weights_only
            if "weights_only" not in str(e):
                raise
    return _load_restricted(path)


def extract_state_dict(obj, key=None):
    import torch
    if key is not None:
        if not isinstance(obj, dict) or key not in obj:
            raise ConvertError(f"the checkpoint has no key '{key}'")
        obj = obj[key]
    if not isinstance(obj, dict):
        raise ConvertError(f"the checkpoint holds a {type(obj).__name__}, not a state_dict")
    if key is None and not all(isinstance(v, torch.Tensor) for v in obj.values()):
        for k in ("state_dict", "model_state_dict", "model"):
            if isinstance(obj.get(k), dict):
                return extract_state_dict(obj[k])
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ConvertError(f"entry '{bad[0]}' is a {type(obj[bad[0]]).__name__}, not a tensor "
                           "(use --key to pick the state_dict inside a checkpoint)")
    for k in obj:
        if not isinstance(k, str) or not k:
            raise ConvertError(f"tensor name {k!r} is not a non-empty string")
        if k == "__metadata__":
            raise ConvertError("a tensor may not be called '__metadata__'")
    return obj


def tensor_bytes(t):
    import torch
    t = t.detach().cpu().contiguous()
    if t.is_quantized or t.is_sparse:
        raise ConvertError("quantized or sparse tensors are not supported")
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: move the raw 16-bit patterns
        arr = t.view(torch.int16).numpy()
    else:
        arr = t.numpy()
    return arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()


def build(state_dict, metadata):
    entries = []
    for name, t in state_dict.items():
        dt = DTYPES.get(str(t.dtype))
        if dt is None:
            raise ConvertError(f"tensor '{name}' has dtype {str(t.dtype).replace('torch.', '')}, "
                               "which libmia does not read (F32 F64 F16 BF16 I64 I32 U8)")
        entries.append((name, dt[0], dt[1], list(t.shape), tensor_bytes(t)))
    entries.sort(key=lambda e: (-e[2], e[0].encode("utf-8")))
    header = {}
    if metadata:
        header["__metadata__"] = {k: metadata[k] for k in sorted(metadata)}
    off = 0
    for name, dt, _, shape, data in entries:
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(data)]}
        off += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    if len(text) > MAX_HEADER:
        raise ConvertError(f"header of {len(text)} bytes exceeds the format limit {MAX_HEADER}")
    return struct.pack("<Q", len(text)) + text, [e[4] for e in entries]


def write_atomic(path, head, chunks):
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".tmp.", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(head)
            for c in chunks:
                f.write(c)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    dfd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input", help="PyTorch .pt/.pth file holding a state_dict")
    ap.add_argument("output", help="safetensors file to write")
    ap.add_argument("--metadata", action="append", default=[], metavar="KEY=VALUE",
                    help="string metadata entry (repeatable)")
    ap.add_argument("--key", help="take the state_dict from this key of the checkpoint")
    args = ap.parse_args(argv)
    meta = collections.OrderedDict()
    for kv in args.metadata:
        if "=" not in kv:
            ap.error(f"--metadata '{kv}' is not KEY=VALUE")
        k, v = kv.split("=", 1)
        meta[k] = v
    try:
        force = os.environ.get("PT2SAFETENSORS_RESTRICTED") == "1"
        obj = load_checkpoint(args.input, force_restricted=force)
        sd = extract_state_dict(obj, args.key)
        head, chunks = build(sd, meta)
        write_atomic(args.output, head, chunks)
    except (ConvertError, pickle.UnpicklingError, OSError, RuntimeError) as e:
        print(f"pt2safetensors: {args.input}: {e}", file=sys.stderr)
        return 1
    print(f"pt2safetensors: wrote {len(sd)} tensors to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
