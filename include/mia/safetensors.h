/**
 * @file safetensors.h
 * @brief Reading and writing safetensors files (the weights format of libmia).
 *
 * Format (huggingface/safetensors): a little-endian u64 N, then N bytes of UTF-8 JSON header,
 * then the byte buffer. The header maps each tensor name to
 * `{"dtype": "F32", "shape": [d0, ...], "data_offsets": [begin, end]}` (offsets relative to
 * the buffer); the optional key `"__metadata__"` maps strings to strings.
 *
 * The reader enforces the reference reader's rules, in its order (header at least 8 bytes,
 * N <= 100,000,000, 8 + N <= file size, UTF-8 JSON of the expected shape, tensors tiling the
 * buffer contiguously from 0 with no gap or overlap, end - begin == elements x dtype size with
 * overflow checks, and 8 + N + last end == file size exactly), plus: duplicate JSON keys are
 * rejected explicitly, JSON nesting deeper than 64 is rejected, metadata values must be strings,
 * unsupported dtypes are rejected by name, and NaN/Inf in float tensors are handled by a policy.
 * Errors: MIA_ERR_IO (cannot read the file), MIA_ERR_FORMAT (malformed), MIA_ERR_UNSUPPORTED
 * (a dtype or rank libmia does not handle), MIA_ERR_NUMERIC (non-finite value under the reject
 * policy), MIA_ERR_NOMEM. The message of mia_last_error() names the file, the tensor and the
 * offending field or offset.
 *
 * @code
 *   mia_safetensors *st = NULL;
 *   if (mia_safetensors_open(&st, "model.safetensors", NULL) != MIA_OK) {
 *       fprintf(stderr, "%s\n", mia_last_error());
 *       return 1;
 *   }
 *   int64_t i = mia_safetensors_find(st, "fc.weight");
 *   if (i >= 0) {
 *       mia_safetensors_dtype dt; int ndim; int64_t shape[MIA_MAX_DIMS];
 *       mia_safetensors_info(st, (size_t)i, &dt, &ndim, shape);
 *       const void *bytes = mia_safetensors_data(st, (size_t)i);   // memcpy from it
 *   }
 *   mia_safetensors_free(st);
 * @endcode
 */
#ifndef MIA_SAFETENSORS_H
#define MIA_SAFETENSORS_H

#include "common.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Element types libmia reads and writes in safetensors files. Values are stable. BF16 and F16
 *  are exposed as raw 16-bit patterns (libmia computes in f32). */
typedef enum mia_safetensors_dtype {
    MIA_SAFETENSORS_F32  = 0,
    MIA_SAFETENSORS_F64  = 1,
    MIA_SAFETENSORS_I64  = 2,
    MIA_SAFETENSORS_I32  = 3,
    MIA_SAFETENSORS_U8   = 4,
    MIA_SAFETENSORS_BF16 = 5,
    MIA_SAFETENSORS_F16  = 6
} mia_safetensors_dtype;

/** Number of values of mia_safetensors_dtype. */
#define MIA_SAFETENSORS_DTYPE_COUNT 7

/** Header-size limit of the format (decimal 100 MB), for readers and writers alike. */
#define MIA_SAFETENSORS_MAX_HEADER 100000000ull

/** Maximum JSON nesting depth accepted in a header (the top-level object is depth 1). */
#define MIA_SAFETENSORS_MAX_DEPTH 64

/** What the reader does with NaN or Inf in F32/F64/F16/BF16 tensors. */
typedef enum mia_safetensors_nonfinite {
    /** Fail with MIA_ERR_NUMERIC naming the tensor and element (default). */
    MIA_SAFETENSORS_NONFINITE_REJECT = 0,
    /** Accept; count them per tensor (mia_safetensors_nonfinite_count()) and log a warning. */
    MIA_SAFETENSORS_NONFINITE_COUNT = 1,
    /** Accept without scanning; counts read as 0. */
    MIA_SAFETENSORS_NONFINITE_IGNORE = 2
} mia_safetensors_nonfinite;

/** Options of mia_safetensors_open() and mia_safetensors_open_memory(). */
typedef struct mia_safetensors_opts {
    uint32_t struct_size;               /**< set by mia_safetensors_opts_init() */
    mia_safetensors_nonfinite nonfinite; /**< NaN/Inf policy; default REJECT */
    uint64_t max_file_bytes;            /**< refuse larger files before reading; 0 = no limit */
} mia_safetensors_opts;

/** Fill @p o with defaults (REJECT non-finite values, no size limit). Thread-safe. */
MIA_API void mia_safetensors_opts_init_sized(mia_safetensors_opts *o, size_t size);
/** Fill an options struct with defaults. */
#define mia_safetensors_opts_init(o) mia_safetensors_opts_init_sized((o), sizeof *(o))

/** Format name of @p dtype ("F32", "BF16", ...); "unknown" for an invalid value. Static text. */
MIA_API const char *mia_safetensors_dtype_name(mia_safetensors_dtype dtype);

/** Size in bytes of one element of @p dtype; 0 for an invalid value. Thread-safe. */
MIA_API size_t mia_safetensors_dtype_size(mia_safetensors_dtype dtype);

/**
 * @brief The libmia tensor dtype matching @p dtype.
 * @return true and sets *out for F32, F64, I64, I32 and U8; false for BF16/F16 (no libmia
 *         tensor type; convert the raw values yourself) or an invalid value.
 */
MIA_API bool mia_safetensors_dtype_to_tensor(mia_safetensors_dtype dtype, mia_dtype *out);

/* ---- reader ------------------------------------------------------------------------------ */

/** An opened, fully validated safetensors file held in memory. Immutable after opening, so the
 *  accessors may be called from several threads at once. */
typedef struct mia_safetensors mia_safetensors;

/**
 * @brief Read and validate the safetensors file @p path.
 * @param out  receives the reader; NULL on failure. Free with mia_safetensors_free().
 * @param opts NULL for defaults.
 * @return MIA_OK; MIA_ERR_INVALID (NULL argument, bad opts); MIA_ERR_IO (cannot open/read);
 *         MIA_ERR_FORMAT (malformed, or larger than opts->max_file_bytes);
 *         MIA_ERR_UNSUPPORTED (dtype other than F32/F64/I64/I32/U8/BF16/F16, named in the
 *         message, or rank above MIA_MAX_DIMS); MIA_ERR_NUMERIC (NaN/Inf under REJECT);
 *         MIA_ERR_NOMEM.
 * @note The whole file is read into memory. Thread-safe.
 */
MIA_API mia_status mia_safetensors_open(mia_safetensors **out, const char *path,
                                        const mia_safetensors_opts *opts);

/**
 * @brief Validate and open a safetensors image held in memory.
 *
 * The @p len bytes at @p data are copied; the caller keeps ownership of @p data. Errors as
 * mia_safetensors_open(); messages name the file as "<memory>".
 */
MIA_API mia_status mia_safetensors_open_memory(mia_safetensors **out, const void *data,
                                               size_t len, const mia_safetensors_opts *opts);

/** Release @p st and everything borrowed from it. Accepts NULL. */
MIA_API void mia_safetensors_free(mia_safetensors *st);

/** Number of tensors. Tensors are indexed 0..count-1 in the order of their data in the file. */
MIA_API size_t mia_safetensors_count(const mia_safetensors *st);

/** Name of tensor @p i (borrowed, valid until mia_safetensors_free()); NULL if @p i is out of
 *  range. */
MIA_API const char *mia_safetensors_name(const mia_safetensors *st, size_t i);

/** Index of the tensor called @p name, or -1 if there is none. O(log count). */
MIA_API int64_t mia_safetensors_find(const mia_safetensors *st, const char *name);

/**
 * @brief dtype, rank and shape of tensor @p i.
 * @param dtype, ndim out-parameters; either may be NULL.
 * @param shape NULL, or room for MIA_MAX_DIMS values; receives ndim values (rank 0 = scalar).
 * @return MIA_OK, or MIA_ERR_INVALID if @p st is NULL or @p i out of range.
 */
MIA_API mia_status mia_safetensors_info(const mia_safetensors *st, size_t i,
                                        mia_safetensors_dtype *dtype, int *ndim,
                                        int64_t *shape);

/**
 * @brief Raw little-endian, row-major bytes of tensor @p i (borrowed from @p st).
 *
 * The pointer has **no alignment guarantee** (files from other writers need not align their
 * data): read elements with memcpy. For a tensor without elements it is a valid pointer to
 * zero bytes. Returns NULL if @p i is out of range.
 */
MIA_API const void *mia_safetensors_data(const mia_safetensors *st, size_t i);

/** Byte length of tensor @p i (elements x dtype size); 0 if out of range. */
MIA_API size_t mia_safetensors_nbytes(const mia_safetensors *st, size_t i);

/** Number of NaN/Inf elements found in tensor @p i under the COUNT policy (0 otherwise). */
MIA_API uint64_t mia_safetensors_nonfinite_count(const mia_safetensors *st, size_t i);

/** Number of `__metadata__` entries. */
MIA_API size_t mia_safetensors_metadata_count(const mia_safetensors *st);

/** Key and value of metadata entry @p i (borrowed); returns false if out of range. Entries
 *  keep the order of the file. Either out-parameter may be NULL. */
MIA_API bool mia_safetensors_metadata_at(const mia_safetensors *st, size_t i, const char **key,
                                         const char **value);

/** Value of metadata @p key (borrowed), or NULL if absent. */
MIA_API const char *mia_safetensors_metadata_get(const mia_safetensors *st, const char *key);

/* ---- writer ------------------------------------------------------------------------------ */

/** Collects tensors and metadata, then writes a safetensors file. Not thread-safe. */
typedef struct mia_safetensors_writer mia_safetensors_writer;

/** Create an empty writer. *out is NULL on failure (MIA_ERR_INVALID, MIA_ERR_NOMEM). */
MIA_API mia_status mia_safetensors_writer_create(mia_safetensors_writer **out);

/** Release @p w. Accepts NULL. */
MIA_API void mia_safetensors_writer_free(mia_safetensors_writer *w);

/**
 * @brief Add a tensor; its bytes are copied.
 * @param name   non-empty valid UTF-8, unique in the writer, not "__metadata__".
 * @param ndim   0..MIA_MAX_DIMS; @p shape holds @p ndim non-negative dims (may be NULL if 0).
 * @param data   elements x dtype size bytes, little-endian row-major; may be NULL if that is 0.
 * @return MIA_OK; MIA_ERR_INVALID (names the argument: empty/duplicate name, bad dtype, negative
 *         dim, size overflow); MIA_ERR_NOMEM.
 */
MIA_API mia_status mia_safetensors_writer_add(mia_safetensors_writer *w, const char *name,
                                              mia_safetensors_dtype dtype, int ndim,
                                              const int64_t *shape, const void *data);

/** Set metadata @p key to @p value (both valid UTF-8; copied), replacing an earlier value.
 *  Metadata is written sorted by key. MIA_ERR_INVALID or MIA_ERR_NOMEM on failure. */
MIA_API mia_status mia_safetensors_writer_set_metadata(mia_safetensors_writer *w,
                                                       const char *key, const char *value);

/**
 * @brief Write the file atomically (temp file, fsync, rename, fsync directory).
 *
 * Tensors are laid out by descending dtype alignment then name (the reference writer's order);
 * the header is padded with spaces to a multiple of 8, so every tensor is naturally aligned in
 * the file. On failure @p path is untouched and no temp file remains.
 * @return MIA_OK; MIA_ERR_IO (with path and reason); MIA_ERR_INVALID (header over
 *         MIA_SAFETENSORS_MAX_HEADER); MIA_ERR_NOMEM. The writer stays usable.
 */
MIA_API mia_status mia_safetensors_writer_write(const mia_safetensors_writer *w,
                                                const char *path);

/**
 * @brief Serialise to a new memory buffer (same bytes as the file).
 * @param out receives the buffer, free it with mia_safetensors_buffer_free(); NULL on failure.
 */
MIA_API mia_status mia_safetensors_writer_write_memory(const mia_safetensors_writer *w,
                                                       void **out, size_t *len);

/** Free a buffer returned by mia_safetensors_writer_write_memory(). Accepts NULL. */
MIA_API void mia_safetensors_buffer_free(void *buf);

#ifdef __cplusplus
}
#endif
#endif
