/* The calibrated-model wrapper: creation of the temperature variant, predict, evaluate. */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include <mia/model.h>
#include <mia/tensor.h>

#include "calib-internal.h"
#include "train/train-internal.h"

void mia_calibrated_free(mia_calibrated *c)
{
    if (!c) return;
    mia__free(c->U);
    mia__free(c->V);
    mia__free(c->B);
    mia__free(c->Q);
    mia__free(c->lam);
    mia__free(c->Sout);
    mia__free(c->Sb);
    mia__free(c->logits);
    mia__free(c->phi);
    mia__free(c);
}

mia_calib_method mia_calibrated_method(const mia_calibrated *c)
{
    return c ? c->method : MIA_CALIB_TEMPERATURE;
}
double mia_calibrated_T(const mia_calibrated *c)
{
    return c && c->method == MIA_CALIB_TEMPERATURE ? c->T : NAN;
}
double mia_calibrated_var0(const mia_calibrated *c)
{
    return c && c->method == MIA_CALIB_LLLA ? c->var0 : NAN;
}
mia_model *mia_calibrated_model(const mia_calibrated *c) { return c ? c->m : NULL; }

mia_status mia_calibrated_temperature(mia_calibrated **out, mia_model *m, double T)
{
    mia__error_begin();
    MIA_CHECK_ARG(out, "out is NULL");
    *out = NULL;
    MIA_CHECK_ARG(m, "m is NULL");
    MIA_CHECK_ARG(isfinite(T) && T > 0, "T %g must be finite and > 0", T);
    mia_calibrated *c = mia__calloc(1, sizeof *c);
    if (!c) return MIA_ERROR(MIA_ERR_NOMEM, "calibrated model");
    c->method = MIA_CALIB_TEMPERATURE;
    c->m = m;
    c->T = T;
    *out = c;
    return MIA_OK;
}

mia_status mia_calibrated_fit_temperature(mia_calibrated **out, mia_model *m,
                                          const mia_dataset *heldout, const mia_eval_opts *opts)
{
    mia__error_begin();
    MIA_CHECK_ARG(out, "out is NULL");
    *out = NULL;
    MIA_CHECK_ARG(m && heldout, "m or heldout is NULL");
    MIA_CHECK_ARG(mia_dataset_n_classes(heldout) > 0, "heldout dataset '%s' is unlabelled",
                  mia_dataset_source(heldout));
    int64_t n = mia_dataset_n(heldout), k = mia_model_n_classes(m);
    float *z = mia__malloc((size_t)n * (size_t)k * sizeof *z);
    int32_t *y = mia__malloc((size_t)n * sizeof *y);
    mia_status s = MIA_OK;
    if (!z || !y) s = MIA_ERROR(MIA_ERR_NOMEM, "temperature fit buffers");
    if (s == MIA_OK) s = mia_model_predict_dataset(m, heldout, MIA_PREDICT_LOGITS, opts, z);
    for (int64_t i = 0; s == MIA_OK && i < n; i++) y[i] = mia_dataset_label(heldout, i);
    double T = NAN;
    if (s == MIA_OK) s = mia_temperature_fit(&T, z, y, n, k);
    mia__free(z);
    mia__free(y);
    if (s == MIA_OK) s = mia_calibrated_temperature(out, m, T);
    if (s == MIA_OK) mia__log(MIA_LOG_INFO, "fitted temperature T = %.6g", T);
    return s;
}

static mia_status temp_predict(mia_calibrated *c, const mia_tensor *x, int64_t n, float *out)
{
    int64_t k = mia_model_n_classes(c->m);
    MIA_TRY(mia_model_predict(c->m, x, MIA_PREDICT_LOGITS, out));
    for (int64_t i = 0; i < n; i++) {
        float *r = out + i * k;
        double mx = -INFINITY;
        for (int64_t j = 0; j < k; j++) mx = r[j] / c->T > mx ? r[j] / c->T : mx;
        double se = 0;
        for (int64_t j = 0; j < k; j++) se += exp(r[j] / c->T - mx);
        for (int64_t j = 0; j < k; j++) r[j] = (float)(exp(r[j] / c->T - mx) / se);
    }
    return MIA_OK;
}

static mia_status predict_rows(mia_calibrated *c, const mia_tensor *x, int64_t n, int64_t first,
                               float *out)
{
    if (c->method == MIA_CALIB_TEMPERATURE) return temp_predict(c, x, n, out);
    uint64_t key = (uint64_t)first;
    if (c->paper_exact) {
        key = c->call_ctr;
        c->call_ctr += (uint64_t)n;
    }
    return mia__llla_predict(c, x, n, key, c->n_samples, out);
}

mia_status mia_calibrated_predict(mia_calibrated *c, const mia_tensor *x, float *out)
{
    mia__error_begin();
    MIA_CHECK_ARG(c && x && out, "c, x or out is NULL");
    MIA_CHECK_ARG(mia_tensor_ndim(x) >= 2, "x must be a batch [N, ...]");
    return predict_rows(c, x, mia_tensor_dim(x, 0), 0, out);
}

static mia_status batch_fn(void *ctx, const mia_tensor *x, int64_t n, int64_t first, float *out)
{
    return predict_rows(ctx, x, n, first, out);
}

mia_status mia_calibrated_predict_dataset(mia_calibrated *c, const mia_dataset *d,
                                          const mia_eval_opts *opts, float *out)
{
    mia__error_begin();
    MIA_CHECK_ARG(c && d && out, "c, d or out is NULL");
    mia_eval_opts o;
    mia_eval_opts_init(&o);
    if (opts) memcpy(&o, opts, opts->struct_size < sizeof o ? opts->struct_size : sizeof o);
    MIA_CHECK_ARG(o.batch_size >= 1, "opts->batch_size must be >= 1");
    return mia__predict_all(c->m, d, &o, batch_fn, c, mia_model_n_classes(c->m), out, NULL,
                            "calibrated predict");
}

mia_status mia_calibrated_evaluate(mia_calibrated *c, const mia_dataset *d,
                                   const mia_eval_opts *opts, mia_eval_result *out)
{
    mia__error_begin();
    MIA_CHECK_ARG(c && d && out, "c, d or out is NULL");
    MIA_CHECK_ARG(mia_dataset_n_classes(d) > 0, "dataset '%s' is unlabelled",
                  mia_dataset_source(d));
    mia_eval_opts o;
    mia_eval_opts_init(&o);
    if (opts) memcpy(&o, opts, opts->struct_size < sizeof o ? opts->struct_size : sizeof o);
    MIA_CHECK_ARG(o.batch_size >= 1, "opts->batch_size must be >= 1");
    MIA_CHECK_ARG(o.n_bins >= 1 && o.n_bins <= 1000, "opts->n_bins outside [1, 1000]");
    int64_t n = mia_dataset_n(d), k = mia_model_n_classes(c->m);
    float *p = mia__malloc((size_t)n * (size_t)k * sizeof *p);
    int32_t *y = mia__malloc((size_t)n * sizeof *y);
    mia_status s = MIA_OK;
    if (!p || !y) s = MIA_ERROR(MIA_ERR_NOMEM, "evaluation buffers");
    if (s == MIA_OK)
        s = mia__predict_all(c->m, d, &o, batch_fn, c, k, p, y, "calibrated eval");
    if (s == MIA_OK) s = mia__eval_arrays(p, NULL, y, n, k, o.n_bins, out);
    mia__free(p);
    mia__free(y);
    return s;
}
