#!/usr/bin/python3
"""Generate the committed seed corpora of tests/fuzz/corpus/<target>/ (valid and known-bad
small files). Deterministic: run `python3 tests/fuzz/make-seeds.py [target...]` and commit the
result. Regression inputs found by fuzzing are NOT generated here: they are committed as
corpus/<target>/regress-*, and this script never deletes files it did not write."""
import gzip
import io
import json
import os
import struct
import sys
import tarfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- safetensors -------------------------------------------------------------------------------
def st_file(tensors, metadata=None, pad_to=8, raw_header=None):
    hdr = {}
    if metadata is not None:
        hdr["__metadata__"] = metadata
    blob = b""
    for name, dtype, shape, data in tensors:
        hdr[name] = {"dtype": dtype, "shape": shape,
                     "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    h = raw_header if raw_header is not None else json.dumps(hdr, separators=(",", ":")).encode()
    if pad_to:
        h += b" " * ((-len(h)) % pad_to)
    return struct.pack("<Q", len(h)) + h + blob


def safetensors():
    f32 = struct.pack("<6f", 1, 2, 3, 4, 5, 6)
    put("safetensors", "ok-f32", st_file([("w", "F32", [2, 3], f32)]))
    put("safetensors", "ok-multi", st_file([
        ("a.bias", "F32", [2], struct.pack("<2f", 0.5, -1)),
        ("b", "F64", [1], struct.pack("<d", 3.25)),
        ("c", "I64", [2], struct.pack("<2q", -1, 7)),
        ("d", "I32", [], struct.pack("<i", 9)),
        ("e", "U8", [3], b"\x01\x02\x03"),
        ("f", "BF16", [2], b"\x80\x3f\x00\x40"),
        ("g", "F16", [1], b"\x00\x3c"),
        ("z", "F32", [0, 4], b""),
    ], metadata={"format": "pt", "epoch": "3"}))
    put("safetensors", "ok-nan", st_file([("n", "F32", [2], struct.pack("<2f", float("nan"), float("inf")))]))
    put("safetensors", "ok-unpadded", st_file([("w", "F32", [1], f32[:4])], pad_to=0))
    put("safetensors", "ok-empty", st_file([]))
    put("safetensors", "bad-short", b"\x08\x00\x00")
    put("safetensors", "bad-hugelen", struct.pack("<Q", 2**64 - 1) + b"{}")
    put("safetensors", "bad-len-past-end", struct.pack("<Q", 100) + b"{}      ")
    put("safetensors", "bad-json", st_file([], raw_header=b'{"w":{"dtype":"F32",'))
    put("safetensors", "bad-dup", st_file([], raw_header=b'{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
                                         b'"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}') + b"\x01")
    put("safetensors", "bad-dtype", st_file([("w", "C64", [1], b"\0" * 8)]))
    put("safetensors", "bad-shape-mismatch", st_file([], raw_header=b'{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,4]}}') + b"\0" * 4)
    put("safetensors", "bad-offsets-overlap", st_file([], raw_header=
        b'{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}') + b"\0" * 3)
    put("safetensors", "bad-huge-shape", st_file([], raw_header=
        b'{"w":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}}') + b"\0" * 4)
    put("safetensors", "bad-neg-shape", st_file([], raw_header=b'{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}') + b"\0" * 4)
    put("safetensors", "bad-meta-nonstring", st_file([], raw_header=b'{"__metadata__":{"a":1}}'))
    put("safetensors", "bad-deep", st_file([], raw_header=b'{"__metadata__":' + b"[" * 100 + b"]" * 100 + b"}"))
    put("safetensors", "bad-trailing", st_file([("w", "U8", [1], b"\x01")]) + b"\x00")
    put("safetensors", "bad-header-not-object", st_file([], raw_header=b'[1,2]'))
    put("safetensors", "bad-utf8", st_file([], raw_header=b'{"\xff\xfe":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}'))


# ---- IDX ------------------------------------------------------------------------------------------
def idx_images(n, h, w, c=None, magic_type=0x08):
    dims = [n, c, h, w] if c else [n, h, w]
    hdr = struct.pack(">HBB", 0, magic_type, len(dims)) + b"".join(struct.pack(">I", d) for d in dims)
    body = bytes((i * 37 + 11) & 255 for i in range(n * (c or 1) * h * w))
    return hdr + body


def idx_labels(labels):
    return struct.pack(">HBBI", 0, 8, 1, len(labels)) + bytes(labels)


def idx_input(flags, images, labels=b""):
    return bytes([flags]) + struct.pack("<H", len(images)) + images + labels


def gz(b):
    return gzip.compress(b, mtime=0)


def idx():
    im = idx_images(3, 4, 5)
    lb = idx_labels([0, 9, 2])
    put("idx", "ok-images", idx_input(0, im))
    put("idx", "ok-labels", idx_input(1, im, lb))
    put("idx", "ok-4d", idx_input(1, idx_images(2, 3, 3, c=3), idx_labels([1, 1])))
    put("idx", "ok-gz", idx_input(1, gz(im), gz(lb)))
    put("idx", "ok-max-images", idx_input(3, im, lb))
    put("idx", "bad-magic", idx_input(0, b"\x01\x02" + im[2:]))
    put("idx", "bad-type-f32", idx_input(0, idx_images(1, 2, 2, magic_type=0x0D)))
    put("idx", "bad-ndim", idx_input(0, struct.pack(">HBB", 0, 8, 2) + struct.pack(">II", 2, 2) + b"\0" * 4))
    put("idx", "bad-huge-dims", idx_input(0, struct.pack(">HBB", 0, 8, 3) + struct.pack(">III", 2**31, 2**31, 2**31) + b"\0" * 52))
    put("idx", "bad-max-dims", idx_input(0, struct.pack(">HBB", 0, 8, 3) + struct.pack(">III", 2**32 - 1, 2**32 - 1, 2**32 - 1)))
    put("idx", "bad-zero-dims", idx_input(0, struct.pack(">HBB", 0, 8, 3) + struct.pack(">III", 0, 4, 5)))
    put("idx", "bad-truncated", idx_input(0, im[:-1]))
    put("idx", "bad-trailing", idx_input(0, im + b"\0"))
    put("idx", "bad-label-count", idx_input(1, im, idx_labels([1, 2])))
    put("idx", "bad-labels-truncated", idx_input(1, im, lb[:-1]))
    put("idx", "bad-gz-truncated", idx_input(1, gz(im)[:-3], gz(lb)))
    put("idx", "bad-gz-crc", idx_input(0, gz(im)[:-8] + b"\0\0\0\0" + gz(im)[-4:]))
    put("idx", "bad-empty", idx_input(1, b""))


# ---- CIFAR ----------------------------------------------------------------------------------------
def cifar_rec(labels, img_seed):
    return bytes(labels) + bytes(((i * 13 + img_seed) & 255) for i in range(3072))


def tgz(entries, compress=True):
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w:gz" if compress else "w", format=tarfile.USTAR_FORMAT) as t:
        for e in entries:
            name, data = e[0], e[1]
            ti = tarfile.TarInfo(name)
            ti.mtime = 0
            kind = e[2] if len(e) > 2 else "file"
            if kind == "file":
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
            elif kind == "dir":
                ti.type = tarfile.DIRTYPE
                t.addfile(ti)
            elif kind == "symlink":
                ti.type = tarfile.SYMTYPE
                ti.linkname = data.decode()
                t.addfile(ti)
            elif kind == "hardlink":
                ti.type = tarfile.LNKTYPE
                ti.linkname = data.decode()
                t.addfile(ti)
            elif kind == "fifo":
                ti.type = tarfile.FIFOTYPE
                t.addfile(ti)
    raw = bio.getvalue()
    return raw


def cifar_dir(flags, recs, names):
    return bytes([flags]) + struct.pack("<H", len(recs)) + recs + names


def cifar():
    names10 = b"\n".join(b"c%d" % i for i in range(10)) + b"\n"
    recs10 = cifar_rec([3], 1) + cifar_rec([9], 2)
    put("cifar", "ok-10", cifar_dir(0, recs10, names10))
    put("cifar", "ok-10-nonames", cifar_dir(0, recs10, b""))
    recs100 = cifar_rec([4, 77], 3) + cifar_rec([19, 99], 4)
    put("cifar", "ok-100-fine", cifar_dir(1, recs100, b"\n".join(b"f%d" % i for i in range(100)) + b"\n"))
    put("cifar", "ok-100-coarse", cifar_dir(5, recs100, b"\n".join(b"g%d" % i for i in range(20)) + b"\n"))
    put("cifar", "ok-10-max", cifar_dir(8, recs10 * 3, names10))
    put("cifar", "ok-10-tgz", bytes([2]) + tgz([("cifar-10-batches-bin/", b"", "dir"),
                                                ("cifar-10-batches-bin/test_batch.bin", recs10),
                                                ("cifar-10-batches-bin/batches.meta.txt", names10)]))
    put("cifar", "ok-100-tgz", bytes([3]) + tgz([("cifar-100-binary/test.bin", recs100)]))
    put("cifar", "bad-truncated", cifar_dir(0, recs10[:-1], names10))
    put("cifar", "bad-empty", cifar_dir(0, b"", names10))
    put("cifar", "bad-label", cifar_dir(0, cifar_rec([10], 1), names10))
    put("cifar", "bad-label-100", cifar_dir(1, cifar_rec([4, 100], 1), b""))
    put("cifar", "odd-names-few", cifar_dir(0, recs10, b"a\nb\n"))
    put("cifar", "odd-names-binary", cifar_dir(0, recs10, b"\0\xff" * 40))
    put("cifar", "bad-tgz-missing", bytes([2]) + tgz([("x/other.bin", recs10)]))
    put("cifar", "bad-tgz-truncated", bytes([2]) + tgz([("test_batch.bin", recs10)])[:200])
    put("cifar", "bad-tgz-traversal", bytes([2]) + tgz([("../test_batch.bin", recs10)]))


# ---- STL-10 ---------------------------------------------------------------------------------------
def stl_input(flags, delta, labels, names=b""):
    return bytes([flags, delta & 255]) + struct.pack("<H", len(labels)) + labels + names


def stl10():
    names = b"\n".join(b"airplane bird car cat deer dog horse monkey ship truck".split()) + b"\n"
    put("stl10", "ok-1", stl_input(1, 0, b"\x03", names))
    put("stl10", "ok-3", stl_input(3, 0, b"\x01\x0a\x05", names))
    put("stl10", "ok-nested", stl_input(1 | 8, 0, b"\x02", names))
    put("stl10", "ok-max", stl_input(3 | 4, 0, b"\x01\x02\x03"))
    put("stl10", "bad-empty", stl_input(0, 0, b""))
    put("stl10", "bad-size", stl_input(1, 1, b"\x01"))
    put("stl10", "bad-size-short", stl_input(2, -1, b"\x01\x01"))
    put("stl10", "bad-label-0", stl_input(1, 0, b"\x00"))
    put("stl10", "bad-label-11", stl_input(1, 0, b"\x0b"))
    put("stl10", "bad-label-count", stl_input(2, 0, b"\x01"))
    put("stl10", "odd-names", stl_input(1, 0, b"\x01", b"a\n\n\n"))


# ---- MATLAB .mat (v5) ------------------------------------------------------------------------------
MI_INT8, MI_UINT8, MI_INT32, MI_UINT32, MI_DOUBLE, MI_UINT16, MI_MATRIX, MI_COMPRESSED = 1, 2, 5, 6, 9, 4, 14, 15
MX_CELL, MX_CHAR, MX_DOUBLE, MX_UINT8 = 1, 4, 6, 9


def mat_el(t, data):
    pad = (-len(data)) % 8
    return struct.pack("<II", t, len(data)) + data + b"\0" * pad


def mat_matrix(name, cls, dims, data_el):
    body = mat_el(MI_UINT32, struct.pack("<II", cls, 0))
    body += mat_el(MI_INT32, b"".join(struct.pack("<i", d) for d in dims))
    body += mat_el(MI_INT8, name.encode())
    body += data_el
    return mat_el(MI_MATRIX, body)


def mat_cell(name, dims, cells):
    body = mat_el(MI_UINT32, struct.pack("<II", MX_CELL, 0))
    body += mat_el(MI_INT32, b"".join(struct.pack("<i", d) for d in dims))
    body += mat_el(MI_INT8, name.encode())
    for c in cells:
        body += c
    return mat_el(MI_MATRIX, body)


def mat_str(s):
    return mat_matrix("", MX_CHAR, [1, len(s)], mat_el(MI_UINT16, b"".join(struct.pack("<H", ord(ch)) for ch in s)))


def mat_file(*elements, compress=False):
    hdr = b"MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: Thu Jan  1 00:00:00 1970".ljust(116, b" ")
    hdr += b"\0" * 8 + struct.pack("<H", 0x0100) + b"IM"
    out = hdr
    for e in elements:
        out += mat_el(MI_COMPRESSED, zlib.compress(e))[:8 + len(zlib.compress(e))] if compress else e
    return out


def mat_compressed_el(e):
    z = zlib.compress(e)
    return struct.pack("<II", MI_COMPRESSED, len(z)) + z


def svhn_file(n, labels, compress=False, xdims=None):
    xs = bytes(((i * 7) & 255) for i in range(n * 3072))
    x = mat_matrix("X", MX_UINT8, xdims or [32, 32, 3, n], mat_el(MI_UINT8, xs))
    y = mat_matrix("y", MX_DOUBLE, [n, 1], mat_el(MI_DOUBLE, b"".join(struct.pack("<d", v) for v in labels)))
    hdr = mat_file()
    if compress:
        return hdr + mat_compressed_el(x) + mat_compressed_el(y)
    return hdr + x + y


def dogs_file(files, compress=False):
    cells = [mat_str(f) for f in files]
    c = mat_cell("file_list", [len(files), 1], cells)
    lab = mat_matrix("labels", MX_DOUBLE, [len(files), 1],
                     mat_el(MI_DOUBLE, b"".join(struct.pack("<d", i + 1) for i in range(len(files)))))
    if compress:
        return mat_file() + mat_compressed_el(c) + mat_compressed_el(lab)
    return mat_file() + c + lab


def mat():
    put("mat", "ok-svhn", b"\x00" + svhn_file(2, [1.0, 10.0]))
    put("mat", "ok-svhn-z", b"\x00" + svhn_file(2, [3.0, 4.0], compress=True))
    put("mat", "ok-svhn-max", b"\x06" + svhn_file(3, [1.0, 2.0, 3.0]))
    put("mat", "ok-svhn-rank3", b"\x00" + svhn_file(1, [5.0], xdims=[32, 32, 3]))
    put("mat", "bad-svhn-label", b"\x00" + svhn_file(1, [11.0]))
    put("mat", "bad-svhn-label-frac", b"\x00" + svhn_file(1, [1.5]))
    put("mat", "bad-svhn-dims", b"\x00" + svhn_file(1, [1.0], xdims=[32, 31, 3, 1]))
    put("mat", "bad-svhn-huge-n", b"\x00" + svhn_file(1, [1.0], xdims=[32, 32, 3, 2**31 - 1]))
    put("mat", "bad-svhn-truncated", b"\x00" + svhn_file(2, [1.0, 2.0])[:3000])
    put("mat", "bad-svhn-noy", b"\x00" + svhn_file(1, [1.0])[:128 + 8 + 3200 - 8])
    put("mat", "bad-not-mat", b"\x00" + b"hello, world" * 20)
    files = ["n02085620-Chihuahua/n02085620_5927.jpg", "n02085782-Japanese_spaniel/n02085782_2.jpg",
             "n02085620-Chihuahua/n02085620_10074.jpg"]
    put("mat", "ok-dogs", b"\x01" + dogs_file(files))
    put("mat", "ok-dogs-z", b"\x01" + dogs_file(files, compress=True))
    put("mat", "ok-dogs-tar", b"\x02" + tgz([("train_list.mat", dogs_file(files)),
                                              ("test_list.mat", dogs_file(files[:1]))], compress=False))
    put("mat", "bad-dogs-noslash", b"\x01" + dogs_file(["abc.jpg"]))
    put("mat", "bad-dogs-dotdot", b"\x01" + dogs_file(["../x/y.jpg"]))
    put("mat", "bad-dogs-empty", b"\x01" + dogs_file([]))
    put("mat", "bad-dogs-tar-missing", b"\x02" + tgz([("other.mat", dogs_file(files))], compress=False))
    put("mat", "bad-dogs-truncated", b"\x01" + dogs_file(files)[:300])
    # regression (LeakSanitizer, corruption matrix): the archive fails after the list was read
    put("mat", "bad-dogs-tar-error-after-list", b"\x02" + tgz([("train_list.mat", dogs_file(files)),
                                                                ("../x", b"x")], compress=False))


# ---- archives -------------------------------------------------------------------------------------
def zipfile_bytes(entries):
    import zipfile
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
    return bio.getvalue()


def archive():
    ents = [("d/", b"", "dir"), ("d/a.txt", b"hello\n"), ("d/b.bin", bytes(range(256)) * 4), ("c", b"")]
    put("archive", "ok-tgz", b"\x00" + tgz(ents))
    put("archive", "ok-tar", b"\x02" + tgz(ents, compress=False))
    put("archive", "ok-zip", b"\x00" + zipfile_bytes([("a.txt", b"hello\n"), ("b/c.bin", b"\0" * 3000)]))
    put("archive", "ok-tight", b"\x01" + tgz(ents))
    put("archive", "odd-stop-at-2nd", b"\x06" + tgz(ents))
    put("archive", "bad-ratio", b"\x01" + tgz([("z", b"\0" * 200000)]))
    put("archive", "bad-many", b"\x01" + tgz([("e%d" % i, b"") for i in range(40)]))
    put("archive", "bad-dotdot", b"\x00" + tgz([("../x", b"x")]))
    put("archive", "bad-abs", b"\x00" + tgz([("/etc/x", b"x")]))
    put("archive", "bad-empty-comp", b"\x00" + tgz([("a//b", b"x")]))
    put("archive", "bad-symlink", b"\x00" + tgz([("l", b"/etc/passwd", "symlink")]))
    put("archive", "bad-hardlink", b"\x00" + tgz([("a", b"x"), ("h", b"a", "hardlink")]))
    put("archive", "bad-fifo", b"\x00" + tgz([("f", b"", "fifo")]))
    raw = bytearray(tgz([("a", b"0123456789")], compress=False))
    raw[124:136] = b"00000000100\0"   # declared 64 bytes, data block holds 10 + padding
    put("archive", "bad-size-mismatch", b"\x02" + bytes(raw))
    put("archive", "bad-truncated", b"\x00" + tgz(ents)[:100])
    put("archive", "bad-garbage", b"\x00" + b"\x1f\x8b\x08\x00garbage" * 8)
    put("archive", "bad-longname", b"\x01" + tgz([("n" * 90, b"x")]))


# ---- images ---------------------------------------------------------------------------------------
def png_chunk(t, data):
    return struct.pack(">I", len(data)) + t + data + struct.pack(">I", zlib.crc32(t + data) & 0xffffffff)


def png_raw(w, h, depth, ctype, rows):
    ihdr = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(rows)) +
            png_chunk(b"IEND", b""))


def image():
    from PIL import Image
    def enc(img, fmt, **kw):
        b = io.BytesIO()
        img.save(b, fmt, **kw)
        return b.getvalue()
    rgb = Image.frombytes("RGB", (7, 5), bytes((i * 29) & 255 for i in range(7 * 5 * 3)))
    put("image", "ok-png-rgb", b"\x00" + enc(rgb, "PNG"))
    put("image", "ok-png-gray", b"\x00" + enc(rgb.convert("L"), "PNG"))
    put("image", "ok-png-la", b"\x00" + enc(rgb.convert("LA"), "PNG"))
    put("image", "ok-png-rgba", b"\x00" + enc(rgb.convert("RGBA"), "PNG"))
    put("image", "ok-png-pal", b"\x00" + enc(rgb.convert("P"), "PNG"))
    put("image", "ok-png-1bit", b"\x00" + enc(rgb.convert("1"), "PNG"))
    put("image", "ok-png-16", b"\x00" + png_raw(2, 2, 16, 2, b"".join(b"\0" + bytes(range(r * 12, r * 12 + 12)) for r in range(2))))
    put("image", "ok-png-interlaced", b"\x00" + enc(rgb, "PNG", optimize=False) )
    put("image", "ok-jpeg-rgb", b"\x00" + enc(rgb, "JPEG", quality=90))
    put("image", "ok-jpeg-gray", b"\x00" + enc(rgb.convert("L"), "JPEG"))
    put("image", "ok-jpeg-progressive", b"\x00" + enc(rgb.resize((17, 9)), "JPEG", progressive=True))
    put("image", "ok-jpeg-cmyk", b"\x00" + enc(rgb.convert("CMYK"), "JPEG"))
    put("image", "ok-jpeg-420", b"\x00" + enc(rgb.resize((33, 17)), "JPEG", subsampling=2))
    put("image", "ok-defaultcaps", b"\x01" + enc(rgb, "PNG"))
    put("image", "bad-ppm16", b"\x00" + b"P6\n1 1\n65535\n" + b"\x01\x02\x03\x04\x05\x06")
    put("image", "bad-gif", b"\x00" + enc(rgb.convert("P"), "GIF"))
    put("image", "bad-png-huge", b"\x00" + png_raw(1, 10**9, 8, 0, b"\0\0"))
    put("image", "bad-png-huge-w", b"\x01" + png_raw(2**31 - 1, 1, 8, 2, b"\0\0"))
    put("image", "bad-png-truncated", b"\x00" + enc(rgb, "PNG")[:60])
    put("image", "bad-png-crc", b"\x00" + enc(rgb, "PNG")[:29] + b"\0\0\0\0" + enc(rgb, "PNG")[33:])
    put("image", "bad-png-short-idat", b"\x00" + png_raw(8, 8, 8, 2, b"\0" * 10))
    put("image", "bad-jpeg-truncated", b"\x00" + enc(rgb, "JPEG")[:200])
    j = bytearray(enc(rgb, "JPEG"))
    put("image", "bad-jpeg-huge", b"\x00" + bytes(j[:j.find(b"\xff\xc0") + 5]) + struct.pack(">HH", 60000, 60000) + bytes(j[j.find(b"\xff\xc0") + 9:]))
    # Huffman table whose counts sum to more than 256 symbols (reliability.md §2.4)
    k = j.find(b"\xff\xc4")
    jj = bytearray(j)
    jj[k + 5:k + 21] = bytes([255] * 16)
    put("image", "bad-jpeg-huffman-counts", b"\x00" + bytes(jj))
    put("image", "bad-empty", b"\x00")
    put("image", "bad-soi-only", b"\x00\xff\xd8\xff")


# ---- manifests ------------------------------------------------------------------------------------
def manifest():
    import hashlib
    abc = b"abc"
    gzabc = bytes([31, 139, 8, 0, 0, 0, 0, 0, 2, 255, 75, 76, 74, 6, 0, 194, 65, 36, 53, 3, 0, 0, 0])
    def j(o):
        return json.dumps(o, indent=1).encode()
    put("manifest", "ok-all", j({"name": "x", "files": [
        {"name": "a.bin", "size": 3, "sha256": hashlib.sha256(abc).hexdigest(), "md5": hashlib.md5(abc).hexdigest()},
        {"name": "b.gz", "size": len(gzabc), "md5_decompressed": hashlib.md5(abc).hexdigest(),
         "md5_alt": [hashlib.md5(gzabc).hexdigest()]},
        {"name": "missing.bin", "size": 10}]}))
    put("manifest", "ok-mismatch", j({"files": [
        {"name": "a.bin", "size": 4}, {"name": "a.bin", "md5": "00" * 16},
        {"name": "a.bin", "sha256": "AB" * 32}, {"name": "a.bin", "md5_decompressed": "00" * 16}]}))
    put("manifest", "bad-json", b'{"files": [ {"name": "a.bin", ')
    put("manifest", "bad-dup-key", b'{"files": [], "files": []}')
    put("manifest", "bad-empty-files", b'{"files": []}')
    put("manifest", "bad-no-files", b'{"name": "x"}')
    put("manifest", "bad-dotdot", j({"files": [{"name": "../a.bin"}]}))
    put("manifest", "bad-abs", j({"files": [{"name": "/etc/passwd"}]}))
    put("manifest", "bad-name-type", j({"files": [{"name": 3}]}))
    put("manifest", "bad-not-object", b"[1,2,3]")
    put("manifest", "bad-deep", b"[" * 5000 + b"]" * 5000)
    put("manifest", "bad-nul", b'{"files": [{"name": "a\\u0000b"}]}')


# ---- checkpoints (ok-mlp-adam is written by the target itself: see fuzz-checkpoint.c) --------------
def st_split(b):
    n = struct.unpack("<Q", b[:8])[0]
    return json.loads(b[8:8 + n]), b[8 + n:]


def st_join(hdr, blob):
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * ((-len(h)) % 8)
    return struct.pack("<Q", len(h)) + h + blob


def checkpoint():
    ok = open(os.path.join(HERE, "corpus", "checkpoint", "ok-mlp-adam"), "rb").read()
    hdr, blob = st_split(ok)
    meta = hdr["__metadata__"]
    def variant(name, **changes):
        h = json.loads(json.dumps(hdr))
        for k, v in changes.items():
            if v is None:
                h["__metadata__"].pop(k, None)
            else:
                h["__metadata__"][k] = v
        put("checkpoint", name, st_join(h, blob))
    variant("bad-format", format="pt")
    variant("bad-version", format_version="2")
    variant("bad-config-hash", config_hash="other")
    variant("bad-dataset-hash", dataset_hash="other")
    for k in sorted(meta):
        if k not in ("format", "format_version", "config_hash", "dataset_hash"):
            variant("bad-missing-" + k.replace("_", "-"), **{k: None})
            variant("bad-neg-" + k.replace("_", "-"), **{k: "-1"})
            variant("bad-huge-" + k.replace("_", "-"), **{k: "18446744073709551615"})
    flipped = bytearray(blob)
    flipped[len(flipped) // 2] ^= 1
    put("checkpoint", "bad-payload-flip", st_join(hdr, bytes(flipped)))
    h = json.loads(json.dumps(hdr))
    first = sorted(k for k in h if k != "__metadata__")[0]
    del h[first]
    put("checkpoint", "bad-missing-tensor", st_join(h, blob))
    put("checkpoint", "bad-truncated", ok[:len(ok) // 2])
    put("checkpoint", "bad-not-safetensors", b"hello world, not a checkpoint")


# ---- experiment configs --------------------------------------------------------------------------
def config():
    cdir = os.path.join(HERE, "..", "..", "configs")
    for f in sorted(os.listdir(cdir)):
        if f.endswith(".json"):
            put("config", "ok-" + f[:-5], open(os.path.join(cdir, f), "rb").read())
    base = json.load(open(os.path.join(cdir, "fashion-mnist.json")))
    def bad(name, mutate):
        c = json.loads(json.dumps(base))
        mutate(c)
        put("config", "bad-" + name, json.dumps(c, indent=1).encode())
    bad("unknown-key", lambda c: c.__setitem__("no_such_key", 1))
    for k in list(base):
        bad("missing-" + k, lambda c, k=k: c.pop(k))
        bad("type-" + k, lambda c, k=k: c.__setitem__(k, [1, 2]))
        if isinstance(base[k], dict):
            for kk in list(base[k])[:6]:
                bad("neg-%s-%s" % (k, kk), lambda c, k=k, kk=kk: c[k].__setitem__(kk, -1))
                bad("huge-%s-%s" % (k, kk), lambda c, k=k, kk=kk: c[k].__setitem__(kk, 2**64 - 1))
                bad("str-%s-%s" % (k, kk), lambda c, k=k, kk=kk: c[k].__setitem__(kk, "x" * 5000))
    put("config", "bad-json", b'{"name": "x", ')
    put("config", "bad-dup-key", b'{"name": "x", "name": "y"}')
    put("config", "bad-deep", b"[" * 3000 + b"]" * 3000)
    put("config", "bad-empty", b"")
    put("config", "bad-nan", json.dumps(base).replace("0.", "NaN", 1).encode())


TARGETS = {"checkpoint": checkpoint, "config": config, "safetensors": safetensors, "idx": idx, "cifar": cifar, "stl10": stl10, "mat": mat,
           "archive": archive, "image": image, "manifest": manifest}

if __name__ == "__main__":
    names = sys.argv[1:] or [t for t in TARGETS if t != "checkpoint" or os.path.exists(
        os.path.join(HERE, "corpus", "checkpoint", "ok-mlp-adam"))]
    for n in names:
        TARGETS[n]()
