/*
 * Image decoding, PIL-exact resampling and PNG writing. Internal to libmia (not installed).
 *
 * Pixel layouts (units: bytes, one byte per sample):
 *   - "interleaved" (HWC): what the decoders return, row-major, channels adjacent, as PIL.
 *   - "plane": one channel, h rows of w bytes with a row stride; datasets store NCHW, so an image
 *     is c consecutive planes.
 *
 * Decoding follows reliability.md B5: sniff the format (PNG or JPEG only), read the header, check
 * width/height/bytes against caps, and only then allocate and decode, 8 bits per sample, with
 * exactly the channel count the caller asked for (1 or 3). libjpeg-turbo (ISLOW DCT, fancy
 * upsampling: what PIL uses) and libpng do the work; their errors are caught with setjmp and
 * turned into MIA_ERR_FORMAT naming the file; nothing is printed.
 *
 * Colour conversions match PIL's Image.convert(): gray -> RGB replicates, RGB -> L uses
 * L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16, alpha is dropped (not composited), palettes are
 * expanded, 16-bit samples keep their high byte (what PIL does for RGB;16B; for 16-bit gray PNGs
 * PIL would clip the "I" image to 255, libmia keeps the high byte instead).
 *
 * Resampling reproduces Pillow's ImagingResample (libImaging/Resample.c, Pillow 9.4) for 8-bit
 * images bit for bit: bilinear filter with support 1 * max(scale, 1) (antialias when
 * downscaling), coefficients normalised in double then rounded to 22-bit fixed point, horizontal
 * pass first (only over the rows the vertical pass needs), then vertical, each pass skipped when
 * its size does not change. Rotation reproduces PIL Image.rotate(angle, NEAREST, expand=False,
 * fillcolor=0), i.e. torchvision RandomRotation on PIL images.
 */
#ifndef MIA_DATA_IMAGE_H
#define MIA_DATA_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mia-internal.h"

/* ---- decoding ------------------------------------------------------------------------------ */

typedef enum mia__image_format {
    MIA__IMAGE_UNKNOWN = 0,
    MIA__IMAGE_PNG = 1,
    MIA__IMAGE_JPEG = 2
} mia__image_format;

/* Caps checked after the header and before any pixel allocation. */
typedef struct mia__image_limits {
    int64_t max_dim;   /* max width and max height; default 16384 */
    int64_t max_bytes; /* max w*h*channels of the decoded image; default 1 << 28 */
} mia__image_limits;

#define MIA__IMAGE_DEFAULT_MAX_DIM   16384
#define MIA__IMAGE_DEFAULT_MAX_BYTES ((int64_t)1 << 28)

MIA_PRIVATE void mia__image_limits_init(mia__image_limits *l);

/* Format from the first bytes (PNG signature, JPEG SOI + marker). */
MIA_PRIVATE mia__image_format mia__image_sniff(const void *data, size_t n);

/* Header only: width, height and the file's own channel count (1 gray, 2 gray+alpha, 3, 4).
 * name is used in error messages only (may be NULL: "<memory>"). Checks nothing but syntax. */
MIA_PRIVATE mia_status mia__image_info(const void *data, size_t n, const char *name,
                                       int64_t *width, int64_t *height, int *channels);

/* Decode PNG or JPEG bytes into a new interleaved u8 buffer with `channels` (1 or 3) samples per
 * pixel. *pixels is owned by the caller (mia__free). On failure *pixels is NULL and the status is
 * MIA_ERR_FORMAT (bad/truncated data, over the caps: message starts with name),
 * MIA_ERR_UNSUPPORTED (not PNG/JPEG, e.g. PPM), MIA_ERR_INVALID or MIA_ERR_NOMEM.
 * limits may be NULL (defaults). Thread-safe (no shared state). */
MIA_PRIVATE mia_status mia__image_decode(const void *data, size_t n, const char *name,
                                         int channels, const mia__image_limits *limits,
                                         uint8_t **pixels, int64_t *width, int64_t *height);

/* Read a file (bounded by the limits) and decode it; errors name path. */
MIA_PRIVATE mia_status mia__image_load(const char *path, int channels,
                                       const mia__image_limits *limits, uint8_t **pixels,
                                       int64_t *width, int64_t *height);

/* ---- writing ------------------------------------------------------------------------------- */

/* Write interleaved u8 pixels (channels 1, 3 or 4) as a PNG file through stb_image_write,
 * atomically (temp file + rename). MIA_ERR_IO names the path. */
MIA_PRIVATE mia_status mia__image_write_png(const char *path, const uint8_t *pixels, int64_t width,
                                            int64_t height, int channels);
/* Encode to a PNG in memory; *png owned by the caller (mia__free). */
MIA_PRIVATE mia_status mia__image_encode_png(const uint8_t *pixels, int64_t width, int64_t height,
                                             int channels, uint8_t **png, size_t *len);

/* ---- resampling (resize.c) ----------------------------------------------------------------- */

/* Precomputed Pillow bilinear coefficients for one (src w,h) -> (dst w,h) geometry; apply to any
 * number of planes. Immutable after creation: one plan may be shared by threads. */
typedef struct mia__resize_plan mia__resize_plan;

MIA_PRIVATE mia_status mia__resize_plan_create(mia__resize_plan **out, int64_t src_w,
                                               int64_t src_h, int64_t dst_w, int64_t dst_h);
MIA_PRIVATE void mia__resize_plan_free(mia__resize_plan *p);
/* Bytes of scratch that mia__resize_plane needs (0 when no horizontal pass is needed). */
MIA_PRIVATE size_t mia__resize_plan_scratch(const mia__resize_plan *p);
/* Resize one plane. src: src_h rows of src_w bytes, row stride src_stride; dst: dst_h rows,
 * stride dst_stride. scratch: at least mia__resize_plan_scratch() bytes (may be NULL if 0). */
MIA_PRIVATE void mia__resize_plane(const mia__resize_plan *p, const uint8_t *src,
                                   size_t src_stride, uint8_t *dst, size_t dst_stride,
                                   uint8_t *scratch);
/* One-shot convenience for c planes stored consecutively (CHW): allocates plan and scratch. */
MIA_PRIVATE mia_status mia__resize_chw(const uint8_t *src, int64_t c, int64_t src_h, int64_t src_w,
                                       uint8_t *dst, int64_t dst_h, int64_t dst_w);

/* torchvision Resize(int size): the shorter side becomes size, the longer
 * int(size * long / short). */
MIA_PRIVATE void mia__resize_shorter_dims(int64_t w, int64_t h, int64_t size, int64_t *new_w,
                                          int64_t *new_h);

/* PIL Image.rotate(angle_deg, NEAREST, expand=False, center=None, fillcolor=0) of one plane
 * (w x h, tightly packed) into dst (same size, tightly packed, must not alias src). */
MIA_PRIVATE void mia__rotate_plane(const uint8_t *src, int64_t w, int64_t h, double angle_deg,
                                   uint8_t *dst);

/* ---- colour / layout helpers (image.c) ----------------------------------------------------- */

/* Interleaved (HWC) -> planar (CHW). */
MIA_PRIVATE void mia__hwc_to_chw(const uint8_t *src, int64_t h, int64_t w, int64_t c,
                                 uint8_t *dst);
/* PIL's RGB -> L for n pixels of interleaved RGB. */
MIA_PRIVATE void mia__rgb_to_l(const uint8_t *rgb, int64_t n, uint8_t *l);

/* ---- datasets from image files (folder.c, afhq.c) ------------------------------------------ */

typedef struct mia__folder_opts {
    int64_t height, width; /* every image is resized (PIL bilinear) to this; 0,0 = keep the
                              size of the first image and require all to match */
    int channels;          /* 3 (RGB, as PIL convert("RGB")) or 1 (L) */
    mia__image_limits limits;
} mia__folder_opts;

MIA_PRIVATE void mia__folder_opts_init(mia__folder_opts *o);

/* torchvision ImageFolder: classes = immediate subdirectories of root sorted by strcmp; files
 * found recursively (symlinks followed, depth <= 32), ordered by (directory path, file name)
 * with strcmp, kept when the lower-cased name ends in .jpg .jpeg .png .ppm .bmp .pgm .tif .tiff
 * .webp (only JPEG and PNG decode; the others fail with MIA_ERR_UNSUPPORTED naming the file).
 * Labels are class indices; class names are the folder names. An empty class is an error. */
MIA_PRIVATE mia_status mia__folder_load(mia_dataset **out, const char *root,
                                        const mia__folder_opts *opts);

/* AFHQ v1 split ("train" or "val") from a directory (containing afhq/<split>/, or <split>/) or
 * from afhq.zip (entries afhq/<split>/<class>/<file>), classes sorted as ImageFolder does
 * (cat=0, dog=1, wild=2 for the real data). */
MIA_PRIVATE mia_status mia__afhq_load(mia_dataset **out, const char *path, const char *split,
                                      const mia__folder_opts *opts);
/* The same from the bytes of afhq.zip (name used in messages; NULL: "<memory>"). */
MIA_PRIVATE mia_status mia__afhq_load_mem(mia_dataset **out, const void *zip, size_t len,
                                          const char *name, const char *split,
                                          const mia__folder_opts *opts);

/* ---- shared by folder.c and afhq.c ---------------------------------------------------------- */

typedef struct mia__image_entry {
    char *dir;     /* directory relative to the root, e.g. "cat" or "cat/sub" */
    char *name;    /* file name */
    int32_t label; /* class index */
} mia__image_entry;

typedef struct mia__image_list {
    mia__image_entry *e;
    int64_t n, cap;
    char **classes; /* sorted class names */
    int64_t n_classes;
} mia__image_list;

/* ImageFolder's extension filter (case-insensitive). */
MIA_PRIVATE bool mia__image_ext_ok(const char *name);
MIA_PRIVATE mia_status mia__image_list_add(mia__image_list *l, const char *dir, const char *name,
                                           int32_t label);
/* Order: label, then directory (strcmp), then file name (strcmp): Python's sorted(os.walk). */
MIA_PRIVATE void mia__image_list_sort(mia__image_list *l);
MIA_PRIVATE void mia__image_list_free(mia__image_list *l);
MIA_PRIVATE void mia__sort_strings(char **s, int64_t n);
/* New dataset for the listed images (labels and class names set, pixels zero); size from opts
 * or, when opts->height == 0, first_w x first_h. Fails when a class has no image. */
MIA_PRIVATE mia_status mia__image_list_dataset(mia_dataset **out, const mia__image_list *l,
                                               const mia__folder_opts *o, const char *source,
                                               int64_t first_w, int64_t first_h);
/* Decode encoded bytes and store image i of d (CHW), resized to d's size when opts has one. */
MIA_PRIVATE mia_status mia__image_into_slot(mia_dataset *d, int64_t i, const uint8_t *data,
                                            size_t n, const char *name,
                                            const mia__folder_opts *o);

#endif
