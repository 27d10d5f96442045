#!/usr/bin/python3
"""Generate the PIL/torchvision oracle fixtures for tests/test-resize.c and tests/test-images.c.

Run with Debian's interpreter (python3-pil 9.4, python3-torchvision 0.14):
    /usr/bin/python3 tests/gen-resize-fixtures.py tests/data/resize

Every input is a seeded numpy image written as raw bytes (interleaved HWC, u8), every output is
what Pillow / torchvision produce from it, also raw. File names carry the geometry:
<name>-<w>x<h>x<c>.u8 (f32 files: little-endian float32, CHW). The C tests hard-code the same
names. Keep the total small (< 300 KB).
"""
import os
import sys

import numpy as np
from PIL import Image
import torch
import torchvision.transforms as T

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "data", "resize")
os.makedirs(out, exist_ok=True)


def save_u8(name, arr):
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    h, w = arr.shape[:2]
    c = arr.shape[2] if arr.ndim == 3 else 1
    path = os.path.join(out, f"{name}-{w}x{h}x{c}.u8")
    arr.tofile(path)
    return path


def pil(arr):
    return Image.fromarray(arr if arr.ndim == 3 else arr, "RGB" if arr.ndim == 3 else "L")


def rand_img(seed, w, h, c):
    rs = np.random.RandomState(seed)
    shape = (h, w, c) if c == 3 else (h, w)
    return rs.randint(0, 256, size=shape).astype(np.uint8)


# 1. 96x96 RGB -> 32x32 (CIFAR-style Resize((32,32)), antialiased downscale)
a = rand_img(1, 96, 96, 3)
save_u8("rand96", a)
save_u8("rand96-to32", np.asarray(pil(a).resize((32, 32), Image.BILINEAR)))

# 2. Resize(112) on a 115x92 RGB image: shorter side 92 -> 112, longer int(112*115/92) = 140
b = rand_img(2, 115, 92, 3)
save_u8("rand115x92", b)
rb = T.Resize(112)(pil(b))
assert rb.size == (140, 112), rb.size
save_u8("rand115x92-short112", np.asarray(rb))

# 3. 230 -> 224-style mild downscale, grayscale, explicit (h, w)
g = rand_img(3, 230, 100, 1)
save_u8("gray230x100", g)
save_u8("gray230x100-to224x97", np.asarray(pil(g).resize((224, 97), Image.BILINEAR)))

# 4. only one axis changes (Pillow skips the other pass): 60x40 gray -> 60x25, and -> 23x40
g2 = rand_img(4, 60, 40, 1)
save_u8("gray60x40", g2)
save_u8("gray60x40-to60x25", np.asarray(pil(g2).resize((60, 25), Image.BILINEAR)))
save_u8("gray60x40-to23x40", np.asarray(pil(g2).resize((23, 40), Image.BILINEAR)))

# 5. rotation as torchvision RandomRotation does it on PIL (NEAREST, expand False, fill 0)
r = rand_img(5, 64, 48, 3)
save_u8("rand64x48", r)
import torchvision.transforms.functional as TF
for ang, tag in ((13.7, "p13.7"), (-17.3, "m17.3"), (90.0, "p90")):
    rot = TF.rotate(pil(r), ang, interpolation=T.InterpolationMode.NEAREST, expand=False, fill=0)
    save_u8(f"rand64x48-rot{tag}", np.asarray(rot))

# 6. eval pipeline to float: Resize((32,32)) -> ToTensor -> Normalize(CIFAR-10)
tf = T.Compose([T.Resize((32, 32)), T.ToTensor(),
                T.Normalize(mean=[0.4914, 0.4822, 0.4465], std=[0.2470, 0.2435, 0.2616])])
x = tf(pil(a)).numpy().astype("<f4")
x.tofile(os.path.join(out, "rand96-cifar-norm-32x32x3.f32"))

# 7. Dogs eval pipeline: Resize(56) -> CenterCrop(56) -> ToTensor -> ImageNet Normalize on 115x92
tf2 = T.Compose([T.Resize(56), T.CenterCrop((56, 56)), T.ToTensor(),
                 T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])
tf2(pil(b)).numpy().astype("<f4").tofile(os.path.join(out, "rand115x92-dogs-eval-56x56x3.f32"))

# 8. JPEG decode oracle: smooth RGB image saved by PIL (4:2:0), decoded by PIL to RGB and L
yy, xx = np.mgrid[0:40, 0:48]
rs = np.random.RandomState(6)
sm = np.stack([xx * 5, yy * 6, (xx + yy) * 3], axis=-1) + rs.randint(0, 40, size=(40, 48, 3))
sm = np.clip(sm, 0, 255).astype(np.uint8)
jp = os.path.join(out, "smooth48x40.jpg")
pil(sm).save(jp, quality=85)
im = Image.open(jp)
save_u8("smooth48x40-jpg-rgb", np.asarray(im.convert("RGB")))
save_u8("smooth48x40-jpg-l", np.asarray(Image.open(jp).convert("L")))
jg = os.path.join(out, "smooth48x40-gray.jpg")
Image.fromarray(sm[:, :, 0], "L").save(jg, quality=90)
save_u8("smooth48x40-gray-jpg-rgb", np.asarray(Image.open(jg).convert("RGB")))

total = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
print(f"wrote {len(os.listdir(out))} files, {total} bytes to {out}")
assert total < 300 * 1024
