#!/usr/bin/python3
"""Write a safetensors file with plain struct + json (no safetensors package), following the
format and the reference writer's layout: tensors sorted by descending dtype order then name,
compact JSON with __metadata__ first, header padded with spaces to a multiple of 8.

Usage: safetensors-pywrite.py OUT [aligned|unaligned]
  aligned:   the reference layout (libmia's writer must reproduce these bytes exactly)
  unaligned: no padding, odd header length and tensors listed out of offset order (as other
             writers may produce); readers must still accept it.
The tensor values are fixed formulas that test-safetensors.c recomputes independently.
"""
import json
import struct
import sys

# reference Dtype enum order (safetensors/src/tensor.rs), used for the layout sort
ORDER = {"U8": 4, "F16": 11, "BF16": 12, "I32": 13, "F32": 15, "F64": 17, "I64": 18}


def tensors():
    t = {}
    t["a.weight"] = ("F32", [2, 3], struct.pack("<6f", *[0.5 * i - 1.0 for i in range(6)]))
    t["b"] = ("I64", [4], struct.pack("<4q", -1, 2**40, 0, 7))
    t["c"] = ("U8", [], bytes([200]))
    t["d"] = ("F64", [2, 0], b"")
    t["e"] = ("I32", [3], struct.pack("<3i", -5, 0, 5))
    t["f"] = ("BF16", [2], struct.pack("<2H", 0x3F80, 0xC000))  # 1.0, -2.0
    t["h"] = ("F16", [2], struct.pack("<2H", 0x3C00, 0x4000))   # 1.0, 2.0
    t["layer1.0.bn1.num_batches_tracked"] = ("I64", [], struct.pack("<q", 123))
    t["z\u00e9\"/\\"] = ("F64", [1], struct.pack("<d", 3.25))
    return t


def main():
    out = sys.argv[1]
    mode = sys.argv[2] if len(sys.argv) > 2 else "aligned"
    t = tensors()
    meta = {"note": "h\u00e9llo \"quoted\"", "format": "pt"}
    names = sorted(t, key=lambda n: (-ORDER[t[n][0]], n.encode("utf-8")))
    hdr = {"__metadata__": {k: meta[k] for k in sorted(meta)}}
    off = 0
    for n in names:
        dt, shape, data = t[n]
        hdr[n] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(data)]}
        off += len(data)
    if mode == "unaligned":
        # reverse listing order, and a header length that is not a multiple of 8
        items = list(hdr.items())[::-1]
        text = json.dumps(dict(items), separators=(",", ":"), ensure_ascii=False).encode()
        if len(text) % 8 == 0:
            text += b" "
    else:
        text = json.dumps(hdr, separators=(",", ":"), ensure_ascii=False).encode()
        text += b" " * ((8 - len(text) % 8) % 8)
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for n in names:
            f.write(t[n][2])


if __name__ == "__main__":
    main()
