#!/bin/sh
# Prepare libmia's offline data sets (Debian packages only; nothing else is downloaded).
#
#   scripts/fetch-offline-data.sh [--no-install]
#
# Cache directory: $MIA_DATA_DIR, else $XDG_CACHE_HOME/libmia, else ~/.cache/libmia.
# Writes there (gzipped IDX, u8; 4-D IDX is N,C,H,W), loaded by mia_dataset_load():
#   mnist-opencv-{images,labels}.idx.gz    5,000 MNIST digits 28x28 from OpenCV's digits.png
#                                          (opencv-doc .deb unpacked into the cache, not installed)
#   sklearn-digits-{images,labels}.idx.gz  1,797 8x8 digits (values 0..16 scaled by 255/16, rounded)
#   skimage-patches-{images,labels}.idx.gz 32x32 RGB patches cut from scikit-image's sample photos;
#                                          label = index of the source photo
# Fashion-MNIST is read in place from /usr/share/datasets/fashion-mnist (dataset-fashion-mnist),
# installed with apt-get unless --no-install is given.
set -eu

install=1
[ "${1:-}" = "--no-install" ] && install=0

if [ -n "${MIA_DATA_DIR:-}" ]; then dir=$MIA_DATA_DIR
elif [ -n "${XDG_CACHE_HOME:-}" ]; then dir=$XDG_CACHE_HOME/libmia
else dir=$HOME/.cache/libmia; fi
mkdir -p "$dir/debs"
echo "cache: $dir"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. Fashion-MNIST (in place)
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    if [ $install = 1 ]; then
        as_root apt-get install -y dataset-fashion-mnist
    else
        echo "warning: dataset-fashion-mnist is not installed" >&2
    fi
fi

# Unpack a Debian package into the cache without installing it; prints the unpack root.
unpack() { # package
    root=$dir/debs/$1
    if [ ! -d "$root" ]; then
        (cd "$dir/debs" && apt-get download "$1" >/dev/null)
        deb=$(ls "$dir/debs/$1"_*.deb | head -n 1)
        mkdir -p "$root.tmp"
        dpkg-deb -x "$deb" "$root.tmp"
        mv "$root.tmp" "$root"
        rm -f "$deb"
    fi
    echo "$root"
}

# 2. OpenCV digits.png
png=/usr/share/doc/opencv-doc/examples/data/digits.png
[ -f "$png" ] || png=$(unpack opencv-doc)/usr/share/doc/opencv-doc/examples/data/digits.png

# 3. sklearn digits
csv=/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz
[ -f "$csv" ] || csv=$(unpack python3-sklearn)/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz

# 4. scikit-image sample photos
sk=/usr/lib/python3/dist-packages/skimage/data
[ -f "$sk/astronaut.png" ] || sk=$(unpack python3-skimage)/usr/lib/python3/dist-packages/skimage/data

/usr/bin/python3 - "$dir" "$png" "$csv" "$sk" <<'PY'
import gzip, hashlib, os, struct, sys
import numpy as np
from PIL import Image

out, png, csv, sk = sys.argv[1:5]

def write_idx(name, arr):
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    tmp = os.path.join(out, name + ".tmp")
    with gzip.open(tmp, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 8, arr.ndim))
        for d in arr.shape:
            f.write(struct.pack(">I", d))
        f.write(arr.tobytes())
    os.replace(tmp, os.path.join(out, name))

# OpenCV digits: 2000x1000, 20x20 cells, 100 per row, 50 rows, class k = cell rows 5k..5k+4
img = np.asarray(Image.open(png).convert("L"))
assert img.shape == (1000, 2000), img.shape
cells = img.reshape(50, 20, 100, 20).transpose(0, 2, 1, 3).reshape(5000, 20, 20)
digits = np.zeros((5000, 28, 28), np.uint8)
digits[:, 4:24, 4:24] = cells
labels = np.repeat(np.arange(10), 500)
write_idx("mnist-opencv-images.idx.gz", digits)
write_idx("mnist-opencv-labels.idx.gz", labels)
print("mnist-opencv: %d images, md5(digits.png) %s" % (len(digits), hashlib.md5(open(png, "rb").read()).hexdigest()))

# sklearn digits: 1797 x 65, 0..16 pixels + label
data = np.loadtxt(csv, delimiter=",", dtype=np.int64)
assert data.shape == (1797, 65), data.shape
px = np.floor(data[:, :64] * 255.0 / 16.0 + 0.5).astype(np.uint8).reshape(-1, 8, 8)
write_idx("sklearn-digits-images.idx.gz", px)
write_idx("sklearn-digits-labels.idx.gz", data[:, 64])
print("sklearn-digits: %d images" % len(px))

# skimage photos -> non-overlapping 32x32 RGB patches (N, 3, 32, 32)
names = ["astronaut.png", "chelsea.png", "coffee.png", "camera.png", "brick.png", "grass.png",
         "gravel.png", "coins.png", "moon.png", "ihc.png", "motorcycle_left.png",
         "motorcycle_right.png", "rocket.jpg", "retina.jpg", "hubble_deep_field.jpg"]
patches, plabels = [], []
for k, n in enumerate(names):
    p = os.path.join(sk, n)
    if not os.path.exists(p):
        continue
    a = np.asarray(Image.open(p).convert("RGB"))
    h, w = a.shape[0] // 32 * 32, a.shape[1] // 32 * 32
    t = a[:h, :w].reshape(h // 32, 32, w // 32, 32, 3).transpose(0, 2, 4, 1, 3).reshape(-1, 3, 32, 32)
    patches.append(t)
    plabels += [k] * len(t)
patches = np.concatenate(patches)
write_idx("skimage-patches-images.idx.gz", patches)
write_idx("skimage-patches-labels.idx.gz", np.array(plabels))
print("skimage-patches: %d patches from %d photos" % (len(patches), len(set(plabels))))
PY
echo "done"
