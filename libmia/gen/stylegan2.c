/* StyleGAN2-ADA generator inference (skip architecture) from safetensors converted by
 * tools/stylegan2-pkl-to-safetensors.py. Written from the published architecture; the maths of
 * every layer is spelled out in tests/stylegan2_reference.py, which the tests compare against.
 *
 * Convolutions (the modulated 3x3 convs, the transposed 3x3 convs of the up-sampling layers and
 * the 1x1 toRGB convs) run per sample through the backend's conv dispatch with the per-sample
 * modulated weights; the FIR up-sampling (upfirdn2d), bias/lrelu/clamp, noise and the small
 * mapping MLP are plain loops here (no op exists for them). Host backends only. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <mia/backend.h>
#include <mia/gen.h>
#include <mia/safetensors.h>

#include "backend/ops.h"
#include "core/rng.h"
#include "io/io.h"

#define SG_MAX_BLOCKS 12

typedef struct sg_fc {
    int64_t in, out;
    float *w; /* [out, in], pre-multiplied by weight_gain */
    float *b; /* [out], pre-multiplied by bias_gain */
} sg_fc;

typedef struct sg_layer {
    int64_t cin, cout, res;
    bool up;
    sg_fc affine;
    float *weight; /* [cout, cin, 3, 3] */
    float *bias;   /* [cout] */
    float noise_strength;
    float *noise_const; /* [res, res] */
} sg_layer;

typedef struct sg_block {
    int64_t res, cin, cout;
    float *cnst; /* b4: [cout, 4, 4] */
    sg_layer conv0, conv1;
    sg_fc rgb_affine;
    float *rgb_weight; /* [img_c, cout] */
    float *rgb_bias;   /* [img_c] */
} sg_block;

struct mia_stylegan2 {
    mia_backend *be;
    int64_t z_dim, c_dim, w_dim, res, img_c, n_map;
    float lr_mul;
    bool has_clamp;
    float clamp;
    sg_fc embed;
    sg_fc fc[32];
    float *w_avg;
    sg_block blocks[SG_MAX_BLOCKS];
    int n_blocks;
    float filt[16]; /* 4x4 FIR (normalised) */
    char hash[65];
};

/* ---- loading ------------------------------------------------------------------------------ */

static void shape_str(char *buf, size_t cap, int ndim, const int64_t *s)
{
    size_t at = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && at < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, i ? ", %lld" : "%lld", (long long)s[i]);
    if (at < cap) snprintf(buf + at, cap - at, "]");
}

/* Copy tensor @p name, which must be F32 of exactly the given shape, into a new buffer. */
static mia_status take(float **out, const mia_safetensors *st, const char *path, const char *name,
                       int ndim, const int64_t *want)
{
    *out = NULL;
    int64_t i = mia_safetensors_find(st, name);
    char ws[96], gs[96];
    shape_str(ws, sizeof ws, ndim, want);
    if (i < 0)
        return MIA_ERROR(MIA_ERR_FORMAT, "%s: tensor '%s' is missing (expected F32 %s)", path,
                         name, ws);
    mia_safetensors_dtype dt;
    int nd;
    int64_t shape[16];
    MIA_TRY(mia_safetensors_info(st, (size_t)i, &dt, &nd, shape));
    bool ok = dt == MIA_SAFETENSORS_F32 && nd == ndim;
    for (int k = 0; ok && k < nd; k++) ok = shape[k] == want[k];
    if (!ok) {
        shape_str(gs, sizeof gs, nd, shape);
        return MIA_ERROR(MIA_ERR_FORMAT, "%s: tensor '%s' is %s %s, expected F32 %s", path, name,
                         mia_safetensors_dtype_name(dt), gs, ws);
    }
    size_t nb = mia_safetensors_nbytes(st, (size_t)i);
    float *p = mia__malloc(nb ? nb : sizeof(float));
    if (!p) return MIA_ERROR(MIA_ERR_NOMEM, "tensor '%s': out of memory", name);
    if (nb) memcpy(p, mia_safetensors_data(st, (size_t)i), nb);
    *out = p;
    return MIA_OK;
}

static mia_status take_fc(sg_fc *fc, const mia_safetensors *st, const char *path,
                          const char *prefix, int64_t in, int64_t out, float lr_mul)
{
    char name[160];
    int64_t sw[2] = {out, in}, sb[1] = {out};
    fc->in = in;
    fc->out = out;
    if (snprintf(name, sizeof name, "%s.weight", prefix) >= (int)sizeof name)
        return MIA_ERROR(MIA_ERR_INVALID, "%s: tensor prefix '%s' is too long", path, prefix);
    MIA_TRY(take(&fc->w, st, path, name, 2, sw));
    if (snprintf(name, sizeof name, "%s.bias", prefix) >= (int)sizeof name)
        return MIA_ERROR(MIA_ERR_INVALID, "%s: tensor prefix '%s' is too long", path, prefix);
    MIA_TRY(take(&fc->b, st, path, name, 1, sb));
    float wg = lr_mul / sqrtf((float)in);
    for (int64_t k = 0; k < in * out; k++) fc->w[k] *= wg;
    if (lr_mul != 1.0f)
        for (int64_t k = 0; k < out; k++) fc->b[k] *= lr_mul;
    return MIA_OK;
}

static mia_status take_layer(sg_layer *L, const mia_safetensors *st, const char *path,
                             const char *prefix, int64_t cin, int64_t cout, int64_t res, bool up,
                             int64_t w_dim)
{
    char name[160];
    L->cin = cin;
    L->cout = cout;
    L->res = res;
    L->up = up;
    snprintf(name, sizeof name, "%s.affine", prefix);
    MIA_TRY(take_fc(&L->affine, st, path, name, w_dim, cin, 1.0f));
    int64_t sw[4] = {cout, cin, 3, 3}, sb[1] = {cout}, sn[2] = {res, res};
    snprintf(name, sizeof name, "%s.weight", prefix);
    MIA_TRY(take(&L->weight, st, path, name, 4, sw));
    snprintf(name, sizeof name, "%s.bias", prefix);
    MIA_TRY(take(&L->bias, st, path, name, 1, sb));
    snprintf(name, sizeof name, "%s.noise_const", prefix);
    MIA_TRY(take(&L->noise_const, st, path, name, 2, sn));
    snprintf(name, sizeof name, "%s.noise_strength", prefix);
    float *ns;
    MIA_TRY(take(&ns, st, path, name, 0, NULL));
    L->noise_strength = ns[0];
    mia__free(ns);
    return MIA_OK;
}

static void free_fc(sg_fc *fc)
{
    mia__free(fc->w);
    mia__free(fc->b);
}

static void free_layer(sg_layer *L)
{
    free_fc(&L->affine);
    mia__free(L->weight);
    mia__free(L->bias);
    mia__free(L->noise_const);
}

void mia_stylegan2_free(mia_stylegan2 *g)
{
    if (!g) return;
    free_fc(&g->embed);
    for (int i = 0; i < 32; i++) free_fc(&g->fc[i]);
    mia__free(g->w_avg);
    for (int i = 0; i < g->n_blocks; i++) {
        sg_block *b = &g->blocks[i];
        mia__free(b->cnst);
        free_layer(&b->conv0);
        free_layer(&b->conv1);
        free_fc(&b->rgb_affine);
        mia__free(b->rgb_weight);
        mia__free(b->rgb_bias);
    }
    mia__free(g);
}

static mia_status kw_int(int64_t *out, json_t *obj, const char *key, int64_t def, bool required,
                         const char *path)
{
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    if (!v || json_is_null(v)) {
        if (required)
            return MIA_ERROR(MIA_ERR_FORMAT, "%s: init_kwargs lacks '%s'", path, key);
        *out = def;
        return MIA_OK;
    }
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return MIA_OK;
    }
    if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v))) {
        *out = (int64_t)json_real_value(v);
        return MIA_OK;
    }
    return MIA_ERROR(MIA_ERR_FORMAT, "%s: init_kwargs '%s' is not an integer", path, key);
}

static mia_status load_arch(mia_stylegan2 *g, const mia_safetensors *st, const char *path,
                            int64_t *cbase, int64_t *cmax, const char **why)
{
    const char *text = mia_safetensors_metadata_get(st, "init_kwargs");
    (void)why;
    if (!text)
        return MIA_ERROR(MIA_ERR_FORMAT,
                         "%s: no 'init_kwargs' metadata (convert the pickle with "
                         "tools/stylegan2-pkl-to-safetensors.py)", path);
    json_error_t jerr;
    json_t *kw = json_loads(text, 0, &jerr);
    if (!kw || !json_is_object(kw)) {
        json_decref(kw);
        return MIA_ERROR(MIA_ERR_FORMAT, "%s: init_kwargs is not a JSON object", path);
    }
    json_t *map = json_object_get(kw, "mapping_kwargs");
    json_t *syn = json_object_get(kw, "synthesis_kwargs");
    mia_status s = MIA_OK;
    int64_t nmap = 8;
    if ((s = kw_int(&g->z_dim, kw, "z_dim", 0, true, path)) != MIA_OK ||
        (s = kw_int(&g->c_dim, kw, "c_dim", 0, true, path)) != MIA_OK ||
        (s = kw_int(&g->w_dim, kw, "w_dim", 0, true, path)) != MIA_OK ||
        (s = kw_int(&g->res, kw, "img_resolution", 0, true, path)) != MIA_OK ||
        (s = kw_int(&g->img_c, kw, "img_channels", 0, true, path)) != MIA_OK ||
        (s = kw_int(&nmap, map, "num_layers", 8, false, path)) != MIA_OK ||
        (s = kw_int(cbase, syn, "channel_base", 32768, false, path)) != MIA_OK ||
        (s = kw_int(cmax, syn, "channel_max", 512, false, path)) != MIA_OK)
        goto done;
    g->n_map = nmap;
    g->lr_mul = 0.01f;
    json_t *lr = map ? json_object_get(map, "lr_multiplier") : NULL;
    if (lr && json_is_number(lr)) g->lr_mul = (float)json_number_value(lr);
    json_t *cc = syn ? json_object_get(syn, "conv_clamp") : NULL;
    g->has_clamp = cc && json_is_number(cc);
    if (g->has_clamp) g->clamp = (float)json_number_value(cc);
    json_t *arch = syn ? json_object_get(syn, "architecture") : NULL;
    if (arch && (!json_is_string(arch) || strcmp(json_string_value(arch), "skip") != 0)) {
        s = MIA_ERROR(MIA_ERR_UNSUPPORTED,
                      "%s: synthesis architecture '%s' is not supported (only 'skip')", path,
                      json_is_string(arch) ? json_string_value(arch) : "?");
        goto done;
    }
    if (g->z_dim < 0 || g->z_dim > 65536 || g->c_dim < 0 || g->c_dim > 65536 || g->w_dim < 1 ||
        g->w_dim > 65536 || g->img_c < 1 || g->img_c > 4 || nmap < 1 || nmap > 32 ||
        *cbase < 1 || *cmax < 1 || (g->z_dim == 0 && g->c_dim == 0)) {
        s = MIA_ERROR(MIA_ERR_FORMAT, "%s: init_kwargs out of range (z_dim %lld, c_dim %lld, "
                      "w_dim %lld, img_channels %lld, mapping layers %lld)", path,
                      (long long)g->z_dim, (long long)g->c_dim, (long long)g->w_dim,
                      (long long)g->img_c, (long long)nmap);
        goto done;
    }
    bool pow2 = g->res >= 4 && g->res <= 4096 && (g->res & (g->res - 1)) == 0;
    if (!pow2)
        s = MIA_ERROR(MIA_ERR_FORMAT, "%s: img_resolution %lld is not a power of two in "
                      "[4, 4096]", path, (long long)g->res);
done:
    json_decref(kw);
    return s;
}

mia_status mia_stylegan2_load(mia_stylegan2 **out, mia_backend *be, const char *path)
{
    mia__error_begin();
    if (out) *out = NULL;
    MIA_CHECK_ARG(out, "out is NULL");
    MIA_CHECK_ARG(be, "be is NULL");
    MIA_CHECK_ARG(path, "path is NULL");
    if (mia_backend_device_kind(be) != MIA_DEVICE_HOST)
        return MIA_ERROR(MIA_ERR_UNSUPPORTED, "StyleGAN2 inference needs a host backend, not %s",
                         mia_backend_type(be));
    mia_safetensors_opts so;
    mia_safetensors_opts_init(&so);
    mia_safetensors *st = NULL;
    MIA_TRY(mia_safetensors_open(&st, path, &so));
    mia_stylegan2 *g = mia__calloc(1, sizeof *g);
    if (!g) {
        mia_safetensors_free(st);
        return MIA_ERROR(MIA_ERR_NOMEM, "stylegan2: out of memory");
    }
    g->be = be;
    mia_status s;
    int64_t cbase = 0, cmax = 0;
    char name[160];
    if ((s = load_arch(g, st, path, &cbase, &cmax, NULL)) != MIA_OK) goto fail;
    /* mapping */
    if (g->c_dim > 0 &&
        (s = take_fc(&g->embed, st, path, "mapping.embed", g->c_dim, g->w_dim, 1.0f)) != MIA_OK)
        goto fail;
    int64_t fin = g->z_dim + (g->c_dim > 0 ? g->w_dim : 0);
    for (int64_t i = 0; i < g->n_map; i++) {
        snprintf(name, sizeof name, "mapping.fc%lld", (long long)i);
        if ((s = take_fc(&g->fc[i], st, path, name, fin, g->w_dim, g->lr_mul)) != MIA_OK)
            goto fail;
        fin = g->w_dim;
    }
    int64_t swa[1] = {g->w_dim};
    if ((s = take(&g->w_avg, st, path, "mapping.w_avg", 1, swa)) != MIA_OK) goto fail;
    /* FIR filter: the stored buffer when present (checked), else [1,3,3,1] (x) [1,3,3,1] / 64 */
    static const float f1[4] = {1, 3, 3, 1};
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++) g->filt[y * 4 + x] = f1[y] * f1[x] / 64.0f;
    if (g->res >= 8 && mia_safetensors_find(st, "synthesis.b8.resample_filter") >= 0) {
        float *f;
        int64_t sf[2] = {4, 4};
        if ((s = take(&f, st, path, "synthesis.b8.resample_filter", 2, sf)) != MIA_OK) goto fail;
        memcpy(g->filt, f, sizeof g->filt);
        mia__free(f);
    }
    /* synthesis blocks */
    int64_t cin = 0;
    for (int64_t res = 4; res <= g->res; res *= 2) {
        sg_block *b = &g->blocks[g->n_blocks++];
        int64_t cout = cbase / res < cmax ? cbase / res : cmax;
        if (cout < 1) cout = 1;
        b->res = res;
        b->cin = cin;
        b->cout = cout;
        if (res == 4) {
            int64_t sc[3] = {cout, 4, 4};
            if ((s = take(&b->cnst, st, path, "synthesis.b4.const", 3, sc)) != MIA_OK) goto fail;
        } else {
            snprintf(name, sizeof name, "synthesis.b%lld.conv0", (long long)res);
            if ((s = take_layer(&b->conv0, st, path, name, cin, cout, res, true, g->w_dim)) != MIA_OK)
                goto fail;
        }
        snprintf(name, sizeof name, "synthesis.b%lld.conv1", (long long)res);
        if ((s = take_layer(&b->conv1, st, path, name, cout, cout, res, false, g->w_dim)) != MIA_OK)
            goto fail;
        snprintf(name, sizeof name, "synthesis.b%lld.torgb.affine", (long long)res);
        if ((s = take_fc(&b->rgb_affine, st, path, name, g->w_dim, cout, 1.0f)) != MIA_OK)
            goto fail;
        int64_t srw[4] = {g->img_c, cout, 1, 1}, srb[1] = {g->img_c};
        snprintf(name, sizeof name, "synthesis.b%lld.torgb.weight", (long long)res);
        if ((s = take(&b->rgb_weight, st, path, name, 4, srw)) != MIA_OK) goto fail;
        snprintf(name, sizeof name, "synthesis.b%lld.torgb.bias", (long long)res);
        if ((s = take(&b->rgb_bias, st, path, name, 1, srb)) != MIA_OK) goto fail;
        cin = cout;
    }
    mia_safetensors_free(st);
    st = NULL;
    uint8_t d[32];
    if ((s = mia__sha256_file(path, d)) != MIA_OK) goto fail;
    mia__sha256_hex(d, g->hash);
    *out = g;
    return MIA_OK;
fail:
    mia_safetensors_free(st);
    mia_stylegan2_free(g);
    return s;
}

void mia_stylegan2_shape(const mia_stylegan2 *g, int64_t *z_dim, int64_t *c_dim,
                         int64_t *channels, int64_t *resolution)
{
    if (z_dim) *z_dim = g ? g->z_dim : 0;
    if (c_dim) *c_dim = g ? g->c_dim : 0;
    if (channels) *channels = g ? g->img_c : 0;
    if (resolution) *resolution = g ? g->res : 0;
}

const char *mia_stylegan2_hash(const mia_stylegan2 *g) { return g ? g->hash : NULL; }

/* ---- inference ---------------------------------------------------------------------------- */

static void fc_apply(const sg_fc *fc, const float *x, float *y, bool lrelu)
{
    for (int64_t o = 0; o < fc->out; o++) {
        const float *w = fc->w + o * fc->in;
        float acc = 0.0f;
        for (int64_t i = 0; i < fc->in; i++) acc += x[i] * w[i];
        acc += fc->b[o];
        if (lrelu) acc = (acc < 0.0f ? 0.2f * acc : acc) * (float)M_SQRT2;
        y[o] = acc;
    }
}

static void norm2(float *x, int64_t n)
{
    double ss = 0.0;
    for (int64_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float r = 1.0f / sqrtf((float)(ss / (double)n) + 1e-8f);
    for (int64_t i = 0; i < n; i++) x[i] *= r;
}

/* upfirdn2d on one [c, h, w] image: zero-insertion up-sampling by @p up (1 or 2), zero padding
 * (p0 before, p1 after, both axes), true convolution with the 4x4 filter times gain. */
static void upfir(const float *x, int64_t c, int64_t h, int64_t w, int up, const float *f,
                  float gain, int64_t p0, int64_t p1, float *y, int64_t *oh_out)
{
    int64_t uh = h * up, uw = w * up;
    int64_t oh = uh + p0 + p1 - 3, ow = uw + p0 + p1 - 3;
    float k[16];
    for (int i = 0; i < 16; i++) k[i] = f[15 - i] * gain; /* flipped: convolution */
    for (int64_t ch = 0; ch < c; ch++) {
        const float *xc = x + ch * h * w;
        float *yc = y + ch * oh * ow;
        for (int64_t oy = 0; oy < oh; oy++)
            for (int64_t ox = 0; ox < ow; ox++) {
                float acc = 0.0f;
                for (int ky = 0; ky < 4; ky++) {
                    int64_t uy = oy + ky - p0;
                    if (uy < 0 || uy >= uh || uy % up) continue;
                    for (int kx = 0; kx < 4; kx++) {
                        int64_t ux = ox + kx - p0;
                        if (ux < 0 || ux >= uw || ux % up) continue;
                        acc += xc[(uy / up) * w + ux / up] * k[ky * 4 + kx];
                    }
                }
                yc[oy * ow + ox] = acc;
            }
    }
    if (oh_out) *oh_out = oh;
}

/* One synthesis layer on one image: x [cin, r_in, r_in] -> y [cout, res, res]. */
static mia_status layer_apply(mia_stylegan2 *g, const sg_layer *L, const float *wv, const float *x,
                              float *y, float *wmod, float *styles, float *tmp,
                              mia_stylegan2_noise noise, mia_rng *rng)
{
    int64_t ci = L->cin, co = L->cout, res = L->res, kk = 9;
    fc_apply(&L->affine, wv, styles, false);
    for (int64_t o = 0; o < co; o++) {
        double ss = 0.0;
        float *wo = wmod + o * ci * kk;
        for (int64_t i = 0; i < ci; i++)
            for (int64_t k = 0; k < kk; k++) {
                float v = L->weight[(o * ci + i) * kk + k] * styles[i];
                wo[i * kk + k] = v;
                ss += (double)v * v;
            }
        float d = 1.0f / sqrtf((float)ss + 1e-8f);
        for (int64_t k = 0; k < ci * kk; k++) wo[k] *= d;
    }
    if (!L->up) {
        mia_conv2d_args a = {.n = 1, .c = ci, .h = res, .w = res, .o = co, .oh = res, .ow = res,
                             .kh = 3, .kw = 3, .sh = 1, .sw = 1, .pt = 1, .pl = 1, .pb = 1,
                             .pr = 1, .groups = 1, .x = x, .wt = wmod, .y = y};
        MIA_TRY(mia__conv2d_fwd(g->be, &a));
    } else {
        /* transposed conv (stride 2, no padding) as the data gradient of a conv with the
         * weight laid out [cin, cout, 3, 3], then the FIR with padding 1 and gain 4 */
        int64_t rin = res / 2, rt = 2 * rin + 1;
        float *wt = wmod + co * ci * kk;
        for (int64_t o = 0; o < co; o++)
            for (int64_t i = 0; i < ci; i++)
                memcpy(wt + (i * co + o) * kk, wmod + (o * ci + i) * kk, (size_t)kk * sizeof(float));
        mia_conv2d_args a = {.n = 1, .c = co, .h = rt, .w = rt, .o = ci, .oh = rin, .ow = rin,
                             .kh = 3, .kw = 3, .sh = 2, .sw = 2, .groups = 1, .wt = wt,
                             .dy = x, .dx = tmp};
        MIA_TRY(mia__conv2d_bwd_data(g->be, &a));
        upfir(tmp, co, rt, rt, 1, g->filt, 4.0f, 1, 1, y, NULL);
    }
    int64_t hw = res * res;
    const float *nz = NULL;
    float *nbuf = tmp; /* free again after the conv */
    if (noise == MIA_STYLEGAN2_NOISE_CONST) {
        nz = L->noise_const;
    } else if (noise == MIA_STYLEGAN2_NOISE_RANDOM) {
        for (int64_t k = 0; k < hw; k++) nbuf[k] = (float)mia__rng_normal(rng);
        nz = nbuf;
    }
    for (int64_t o = 0; o < co; o++) {
        float *yo = y + o * hw;
        float b = L->bias[o];
        for (int64_t k = 0; k < hw; k++) {
            float v = yo[k];
            if (nz) v += nz[k] * L->noise_strength;
            v += b;
            v = (v < 0.0f ? 0.2f * v : v) * (float)M_SQRT2;
            if (g->has_clamp) v = v < -g->clamp ? -g->clamp : (v > g->clamp ? g->clamp : v);
            yo[k] = v;
        }
    }
    return MIA_OK;
}

static mia_status torgb_apply(mia_stylegan2 *g, const sg_block *b, const float *wv, const float *x,
                              float *rgb, float *wmod, float *styles)
{
    int64_t ci = b->cout, co = g->img_c, hw = b->res * b->res;
    fc_apply(&b->rgb_affine, wv, styles, false);
    float wg = 1.0f / sqrtf((float)ci);
    for (int64_t o = 0; o < co; o++)
        for (int64_t i = 0; i < ci; i++) wmod[o * ci + i] = b->rgb_weight[o * ci + i] * (styles[i] * wg);
    mia_conv2d_args a = {.n = 1, .c = ci, .h = b->res, .w = b->res, .o = co, .oh = b->res,
                         .ow = b->res, .kh = 1, .kw = 1, .sh = 1, .sw = 1, .groups = 1, .x = x,
                         .wt = wmod, .y = rgb};
    MIA_TRY(mia__conv2d_fwd(g->be, &a));
    for (int64_t o = 0; o < co; o++)
        for (int64_t k = 0; k < hw; k++) {
            float v = rgb[o * hw + k] + b->rgb_bias[o];
            if (g->has_clamp) v = v < -g->clamp ? -g->clamp : (v > g->clamp ? g->clamp : v);
            rgb[o * hw + k] = v;
        }
    return MIA_OK;
}

mia_status mia_stylegan2_generate(mia_stylegan2 *g, const float *z, int64_t n, const int32_t *cls,
                                  float psi, mia_stylegan2_noise noise, uint64_t noise_seed,
                                  int64_t noise_index0, float *img)
{
    mia__error_begin();
    MIA_CHECK_ARG(g, "g is NULL");
    MIA_CHECK_ARG(z || g->z_dim == 0, "z is NULL");
    MIA_CHECK_ARG(img, "img is NULL");
    MIA_CHECK_ARG(n >= 1, "n is %lld, expected >= 1", (long long)n);
    MIA_CHECK_ARG(isfinite(psi), "psi is not finite");
    MIA_CHECK_ARG(noise >= MIA_STYLEGAN2_NOISE_RANDOM && noise <= MIA_STYLEGAN2_NOISE_NONE,
                  "noise mode %d is unknown", (int)noise);
    MIA_CHECK_ARG(g->c_dim == 0 || cls, "cls is NULL but the model is conditional (c_dim %lld)",
                  (long long)g->c_dim);
    for (int64_t i = 0; cls && g->c_dim > 0 && i < n; i++)
        MIA_CHECK_ARG(cls[i] >= 0 && cls[i] < g->c_dim, "cls[%lld] = %d is outside [0, %lld)",
                      (long long)i, cls[i], (long long)g->c_dim);
    /* scratch sizes: largest activation and modulated weight */
    int64_t max_act = g->img_c * g->res * g->res, max_w = 0, max_c = g->w_dim;
    for (int i = 0; i < g->n_blocks; i++) {
        const sg_block *b = &g->blocks[i];
        int64_t r = b->res, t = b->cout * (r + 1) * (r + 1);
        if (t > max_act) max_act = t;
        int64_t wsz = 2 * b->cout * (b->cin > b->cout ? b->cin : b->cout) * 9;
        if (wsz > max_w) max_w = wsz;
        if (b->cout > max_c) max_c = b->cout;
        if (b->cin > max_c) max_c = b->cin;
    }
    int64_t hw = g->res * g->res;
    size_t fl = sizeof(float);
    float *A = mia__malloc((size_t)max_act * fl), *B = mia__malloc((size_t)max_act * fl);
    float *T = mia__malloc((size_t)max_act * fl), *W = mia__malloc((size_t)max_w * fl);
    float *S = mia__malloc((size_t)max_c * fl), *IMG = mia__malloc((size_t)max_act * fl);
    float *RGB = mia__malloc((size_t)max_act * fl);
    float *wv = mia__malloc((size_t)(g->z_dim + 2 * g->w_dim + 1) * fl);
    float *wt = mia__malloc((size_t)(g->z_dim + 2 * g->w_dim + 1) * fl);
    float *cv = mia__malloc((size_t)(g->c_dim + 1) * fl);
    mia_status s = MIA_OK;
    if (!A || !B || !T || !W || !S || !IMG || !RGB || !wv || !wt || !cv) {
        s = MIA_ERROR(MIA_ERR_NOMEM, "stylegan2: out of memory for the activations");
        goto done;
    }
    for (int64_t im = 0; im < n; im++) {
        mia_rng rng;
        mia__rng_init(&rng, noise_seed, ((uint64_t)MIA_STREAM_NOISE << 48) ^ (uint64_t)(noise_index0 + im));
        /* mapping */
        int64_t at = 0;
        if (g->z_dim > 0) {
            memcpy(wv, z + im * g->z_dim, (size_t)g->z_dim * fl);
            norm2(wv, g->z_dim);
            at = g->z_dim;
        }
        if (g->c_dim > 0) {
            memset(cv, 0, (size_t)g->c_dim * fl);
            cv[cls[im]] = 1.0f;
            fc_apply(&g->embed, cv, wv + at, false);
            norm2(wv + at, g->w_dim);
        }
        for (int64_t l = 0; l < g->n_map; l++) {
            fc_apply(&g->fc[l], wv, wt, true);
            memcpy(wv, wt, (size_t)g->w_dim * fl);
        }
        if (psi != 1.0f)
            for (int64_t k = 0; k < g->w_dim; k++)
                wv[k] = g->w_avg[k] + psi * (wv[k] - g->w_avg[k]);
        /* synthesis (every layer gets the same w: no style mixing at inference) */
        float *x = A, *y = B;
        int64_t ires = 0;
        for (int i = 0; i < g->n_blocks; i++) {
            const sg_block *b = &g->blocks[i];
            if (b->res == 4) {
                memcpy(x, b->cnst, (size_t)(b->cout * 16) * fl);
            } else {
                if ((s = layer_apply(g, &b->conv0, wv, x, y, W, S, T, noise, &rng)) != MIA_OK)
                    goto done;
                float *t = x; x = y; y = t;
            }
            if ((s = layer_apply(g, &b->conv1, wv, x, y, W, S, T, noise, &rng)) != MIA_OK)
                goto done;
            float *t = x; x = y; y = t;
            if ((s = torgb_apply(g, b, wv, x, RGB, W, S)) != MIA_OK) goto done;
            int64_t n_rgb = g->img_c * b->res * b->res;
            if (ires == 0) {
                memcpy(IMG, RGB, (size_t)n_rgb * fl);
            } else {
                upfir(IMG, g->img_c, ires, ires, 2, g->filt, 4.0f, 2, 1, T, NULL);
                for (int64_t k = 0; k < n_rgb; k++) IMG[k] = T[k] + RGB[k];
            }
            ires = b->res;
        }
        memcpy(img + im * g->img_c * hw, IMG, (size_t)(g->img_c * hw) * fl);
    }
done:
    mia__free(A); mia__free(B); mia__free(T); mia__free(W); mia__free(S);
    mia__free(IMG); mia__free(RGB); mia__free(wv); mia__free(wt); mia__free(cv);
    return s;
}

void mia_gen_to_u8(const float *chw, int64_t c, int64_t h, int64_t w, uint8_t *hwc)
{
    for (int64_t ch = 0; ch < c; ch++)
        for (int64_t k = 0; k < h * w; k++) {
            float v = chw[ch * h * w + k] * 127.5f + 128.0f;
            v = v > 0.0f ? v : 0.0f; /* NaN -> 0 */
            v = v < 255.0f ? v : 255.0f;
            hwc[k * c + ch] = (uint8_t)v;
        }
}
