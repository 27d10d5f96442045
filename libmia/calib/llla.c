/* Last-layer Laplace approximation with KFAC factors (spec §4.2), f64 linear algebra. */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include <mia/graph.h>
#include <mia/model.h>
#include <mia/tensor.h>

#include "calib-internal.h"
#include "core/rng.h"
#include "data/dataset-impl.h"
#include "model/graph-impl.h"
#include "train/train-internal.h"

#if MIA_HAVE_OPENBLAS
extern void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
                    double *w, double *work, const int *lwork, int *iwork, const int *liwork,
                    int *info, size_t jobz_len, size_t uplo_len);
#endif

void mia_llla_opts_init_sized(mia_llla_opts *o, size_t size)
{
    if (!o) return;
    mia_llla_opts d;
    memset(&d, 0, sizeof d);
    d.struct_size = (uint32_t)sizeof d;
    d.batch_size = 128;
    d.n_samples = 100;
    d.n_samples_search = 10;
    d.n_grid = 100;
    d.grid_lo = 1.0;
    d.grid_hi = 1000.0;
    d.lambda = 0.25;
    size_t n = size < sizeof d ? size : sizeof d;
    memcpy(o, &d, n);
    o->struct_size = (uint32_t)n;
}

/* ---- small dense f64 linear algebra --------------------------------------------------------- */

/* In-place lower Cholesky of the n x n SPD matrix a (row-major); upper part zeroed. */
static int cholesky(double *a, int64_t n)
{
    for (int64_t j = 0; j < n; j++) {
        double d = a[j * n + j];
        for (int64_t k = 0; k < j; k++) d -= a[j * n + k] * a[j * n + k];
        if (!(d > 0) || !isfinite(d)) return -1;
        d = sqrt(d);
        a[j * n + j] = d;
        for (int64_t i = j + 1; i < n; i++) {
            double s = a[i * n + j];
            for (int64_t k = 0; k < j; k++) s -= a[i * n + k] * a[j * n + k];
            a[i * n + j] = s / d;
        }
        for (int64_t i = 0; i < j; i++) a[i * n + j] = 0.0;
    }
    return 0;
}

/* inv = (a)^-1 for SPD a (n x n), via Cholesky; work: n*n doubles. */
static int spd_inverse(const double *a, double *inv, double *work, int64_t n)
{
    memcpy(work, a, (size_t)(n * n) * sizeof *work);
    if (cholesky(work, n)) return -1;
    /* solve L L^T X = I column by column */
    for (int64_t col = 0; col < n; col++) {
        double *x = inv + col * n; /* stored as row col (X symmetric) */
        for (int64_t i = 0; i < n; i++) {
            double s = i == col ? 1.0 : 0.0;
            for (int64_t k = 0; k < i; k++) s -= work[i * n + k] * x[k];
            x[i] = s / work[i * n + i];
        }
        for (int64_t i = n - 1; i >= 0; i--) {
            double s = x[i];
            for (int64_t k = i + 1; k < n; k++) s -= work[k * n + i] * x[k];
            x[i] = s / work[i * n + i];
        }
    }
    for (int64_t i = 0; i < n; i++) /* symmetrise */
        for (int64_t j = i + 1; j < n; j++) {
            double v = 0.5 * (inv[i * n + j] + inv[j * n + i]);
            inv[i * n + j] = inv[j * n + i] = v;
        }
    return 0;
}

/* Symmetric eigen-decomposition: a (n x n, row-major) = Q diag(w) Q^T, Q's columns in q
 * (row-major: q[i*n + j] = component i of eigenvector j). */
static mia_status sym_eigen(const double *a, double *q, double *w, int64_t n)
{
    memcpy(q, a, (size_t)(n * n) * sizeof *q);
#if MIA_HAVE_OPENBLAS
    if (n <= 46340) {
        /* column-major LAPACK on a symmetric matrix: same storage; eigenvectors come back as
         * columns in column-major order, i.e. rows of our row-major array: transpose after. */
        int N = (int)n, lwork = -1, liwork = -1, info = 0, iwq = 0;
        double wq = 0;
        dsyevd_("V", "U", &N, q, &N, w, &wq, &lwork, &iwq, &liwork, &info, 1, 1);
        if (info == 0) {
            lwork = (int)wq;
            liwork = iwq;
            double *work = mia__malloc((size_t)lwork * sizeof *work);
            int *iwork = mia__malloc((size_t)liwork * sizeof *iwork);
            if (!work || !iwork) {
                mia__free(work);
                mia__free(iwork);
                return MIA_ERROR(MIA_ERR_NOMEM, "eigen-decomposition workspace");
            }
            dsyevd_("V", "U", &N, q, &N, w, work, &lwork, iwork, &liwork, &info, 1, 1);
            mia__free(work);
            mia__free(iwork);
        }
        if (info != 0)
            return MIA_ERROR(MIA_ERR_NUMERIC, "LLLA: eigen-decomposition failed (info %d)",
                             info);
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = i + 1; j < n; j++) {
                double t = q[i * n + j];
                q[i * n + j] = q[j * n + i];
                q[j * n + i] = t;
            }
        return MIA_OK;
    }
#endif
    /* cyclic Jacobi */
    double *m = mia__malloc((size_t)(n * n) * sizeof *m);
    if (!m) return MIA_ERROR(MIA_ERR_NOMEM, "eigen-decomposition workspace");
    memcpy(m, a, (size_t)(n * n) * sizeof *m);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) q[i * n + j] = i == j;
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0, tot = 0;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++) {
                tot += m[i * n + j] * m[i * n + j];
                if (i != j) off += m[i * n + j] * m[i * n + j];
            }
        if (off <= 1e-30 * tot || off == 0) break;
        for (int64_t p = 0; p < n; p++)
            for (int64_t r = p + 1; r < n; r++) {
                double apr = m[p * n + r];
                if (apr == 0) continue;
                double theta = (m[r * n + r] - m[p * n + p]) / (2 * apr);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1));
                double cs = 1 / sqrt(t * t + 1), sn = t * cs;
                for (int64_t k = 0; k < n; k++) {
                    double mkp = m[k * n + p], mkr = m[k * n + r];
                    m[k * n + p] = cs * mkp - sn * mkr;
                    m[k * n + r] = sn * mkp + cs * mkr;
                }
                for (int64_t k = 0; k < n; k++) {
                    double mpk = m[p * n + k], mrk = m[r * n + k];
                    m[p * n + k] = cs * mpk - sn * mrk;
                    m[r * n + k] = sn * mpk + cs * mrk;
                }
                for (int64_t k = 0; k < n; k++) {
                    double qkp = q[k * n + p], qkr = q[k * n + r];
                    q[k * n + p] = cs * qkp - sn * qkr;
                    q[k * n + r] = sn * qkp + cs * qkr;
                }
            }
    }
    for (int64_t i = 0; i < n; i++) w[i] = m[i * n + i];
    mia__free(m);
    return MIA_OK;
}

/* ---- the wrapper's state --------------------------------------------------------------------- */

void mia__llla_factors(const mia_calibrated *c, const double **U, const double **V,
                       const double **B, int64_t *D, int64_t *C)
{
    *U = c->U;
    *V = c->V;
    *B = c->B;
    *D = c->D;
    *C = c->C;
}

/* Sout = (U + sqrt(tau) I)^-1, Sb = (B + tau I)^-1 into the given buffers. */
static mia_status posterior(const mia_calibrated *c, double var0, double *Sout, double *Sb,
                            double *work)
{
    const int64_t C = c->C;
    const double tau = 1.0 / var0, st = sqrt(tau);
    double *tmp = work + C * C;
    memcpy(tmp, c->U, (size_t)(C * C) * sizeof *tmp);
    for (int64_t i = 0; i < C; i++) tmp[i * C + i] += st;
    if (spd_inverse(tmp, Sout, work, C))
        return MIA_ERROR(MIA_ERR_NUMERIC, "LLLA: U + sqrt(tau) I is not positive definite "
                         "(var0 %g)", var0);
    memcpy(tmp, c->B, (size_t)(C * C) * sizeof *tmp);
    for (int64_t i = 0; i < C; i++) tmp[i * C + i] += tau;
    if (spd_inverse(tmp, Sb, work, C))
        return MIA_ERROR(MIA_ERR_NUMERIC, "LLLA: B + tau I is not positive definite (var0 %g)",
                         var0);
    return MIA_OK;
}

mia_status mia__llla_set_var0(mia_calibrated *c, double var0)
{
    double *work = mia__malloc((size_t)(2 * c->C * c->C) * sizeof *work);
    if (!work) return MIA_ERROR(MIA_ERR_NOMEM, "LLLA workspace");
    mia_status s = posterior(c, var0, c->Sout, c->Sb, work);
    mia__free(work);
    if (s == MIA_OK) c->var0 = var0;
    return s;
}

/* phi^T Sigma_in phi = sum_j (q_j . phi)^2 / (lam_j + sqrt(tau)), from wsq_j = (q_j . phi)^2 */
static double quad_in(const mia_calibrated *c, const double *wsq, double st)
{
    double a = 0;
    for (int64_t j = 0; j < c->D; j++) {
        double l = c->lam[j] > 0 ? c->lam[j] : 0.0; /* V is PSD; clamp rounding */
        a += wsq[j] / (l + st);
    }
    return a;
}

static void project_sq(const mia_calibrated *c, const float *phi, double *wsq)
{
    const int64_t D = c->D;
    for (int64_t j = 0; j < D; j++) wsq[j] = 0;
    for (int64_t i = 0; i < D; i++) {
        double p = phi[i];
        if (p == 0) continue;
        const double *qi = c->Q + i * D;
        for (int64_t j = 0; j < D; j++) wsq[j] += qi[j] * p;
    }
    for (int64_t j = 0; j < D; j++) wsq[j] *= wsq[j];
}

/* MC predictive of one row: mean over S of softmax(mu + L eps). work: C*C + 2*C doubles. */
static mia_status row_predict(const mia_calibrated *c, const float *mu, double a,
                              const double *Sout, const double *Sb, uint64_t key, int S,
                              double *out, double *work)
{
    const int64_t C = c->C;
    double *L = work, *e = work + C * C, *z = e + C;
    for (int64_t i = 0; i < C * C; i++) L[i] = a * Sout[i] + Sb[i];
    if (cholesky(L, C))
        return MIA_ERROR(MIA_ERR_NUMERIC, "LLLA: predictive covariance is not positive definite");
    mia_rng r;
    mia__rng_init(&r, c->seed, mia__llla_noise_stream(key));
    for (int64_t j = 0; j < C; j++) out[j] = 0;
    for (int s = 0; s < S; s++) {
        for (int64_t j = 0; j < C; j++) e[j] = mia__rng_normal(&r);
        double mx = -INFINITY;
        for (int64_t i = 0; i < C; i++) {
            double v = mu[i];
            for (int64_t j = 0; j <= i; j++) v += L[i * C + j] * e[j];
            z[i] = v;
            mx = v > mx ? v : mx;
        }
        double se = 0;
        for (int64_t i = 0; i < C; i++) {
            z[i] = exp(z[i] - mx);
            se += z[i];
        }
        for (int64_t i = 0; i < C; i++) out[i] += z[i] / se;
    }
    for (int64_t j = 0; j < C; j++) out[j] /= S;
    return MIA_OK;
}

static mia_status ensure_scratch(mia_calibrated *c, int64_t n)
{
    if (c->scratch_rows >= n) return MIA_OK;
    mia__free(c->logits);
    mia__free(c->phi);
    c->logits = mia__malloc((size_t)(n * c->C) * sizeof *c->logits);
    c->phi = mia__malloc((size_t)(n * c->D) * sizeof *c->phi);
    c->scratch_rows = 0;
    if (!c->logits || !c->phi) return MIA_ERROR(MIA_ERR_NOMEM, "LLLA batch buffers");
    c->scratch_rows = n;
    return MIA_OK;
}

/* Eval forward: logits and phi of the batch into the scratch buffers. */
static mia_status forward_phi(mia_calibrated *c, const mia_tensor *x, int64_t n)
{
    MIA_TRY(ensure_scratch(c, n));
    MIA_TRY(mia_model_predict(c->m, x, MIA_PREDICT_LOGITS, c->logits));
    const mia_tensor *phi = mia_graph_node_value(mia_model_graph(c->m), c->phi_node);
    if (!phi || mia_tensor_numel(phi) != n * c->D)
        return MIA_ERROR(MIA_ERR_STATE, "LLLA: last-layer input not available after forward");
    return mia_tensor_download(phi, c->phi, (size_t)(n * c->D) * sizeof(float));
}

mia_status mia__llla_predict(mia_calibrated *c, const mia_tensor *x, int64_t n, uint64_t key0,
                             int n_samples, float *out)
{
    MIA_TRY(forward_phi(c, x, n));
    const int64_t C = c->C, D = c->D;
    double *buf = mia__malloc((size_t)(D + C * C + 3 * C) * sizeof *buf);
    if (!buf) return MIA_ERROR(MIA_ERR_NOMEM, "LLLA predict buffers");
    double *wsq = buf, *p = buf + D, *work = p + C;
    const double st = sqrt(1.0 / c->var0);
    mia_status s = MIA_OK;
    for (int64_t r = 0; s == MIA_OK && r < n; r++) {
        project_sq(c, c->phi + r * D, wsq);
        double a = quad_in(c, wsq, st);
        s = row_predict(c, c->logits + r * C, a, c->Sout, c->Sb, key0 + (uint64_t)r, n_samples,
                        p, work);
        for (int64_t j = 0; s == MIA_OK && j < C; j++) out[r * C + j] = (float)p[j];
    }
    mia__free(buf);
    return s;
}

/* ---- fitting ------------------------------------------------------------------------------- */

typedef struct kfac_ctx {
    mia_calibrated *c;
    mia_rng rng;     /* label samples, in dataset order */
    int64_t batch;   /* batches seen */
    double *G, *A;   /* per-batch factors */
} kfac_ctx;

static mia_status kfac_batch(void *vctx, const mia_tensor *x, int64_t n, int64_t first,
                             float *out)
{
    (void)first;
    (void)out;
    kfac_ctx *k = vctx;
    mia_calibrated *c = k->c;
    const int64_t C = c->C, D = c->D;
    MIA_TRY(forward_phi(c, x, n));
    memset(k->G, 0, (size_t)(C * C) * sizeof *k->G);
    memset(k->A, 0, (size_t)(D * D) * sizeof *k->A);
    double p[1024], sv[1024];
    const double isq = 1.0 / sqrt((double)n);
    for (int64_t r = 0; r < n; r++) {
        const float *z = c->logits + r * C;
        double mx = -INFINITY, se = 0;
        for (int64_t j = 0; j < C; j++) mx = z[j] > mx ? z[j] : mx;
        for (int64_t j = 0; j < C; j++) {
            p[j] = exp((double)z[j] - mx);
            se += p[j];
        }
        for (int64_t j = 0; j < C; j++) p[j] /= se;
        /* y ~ Categorical(p) by inverse CDF of one uniform */
        double u = mia__rng_uniform_f64(&k->rng), cum = 0;
        int64_t yh = C - 1;
        for (int64_t j = 0; j < C; j++) {
            cum += p[j];
            if (u < cum) {
                yh = j;
                break;
            }
        }
        for (int64_t j = 0; j < C; j++) sv[j] = (p[j] - (j == yh)) * isq;
        for (int64_t i = 0; i < C; i++)
            for (int64_t j = 0; j < C; j++) k->G[i * C + j] += sv[i] * sv[j];
        const float *f = c->phi + r * D;
        for (int64_t i = 0; i < D; i++) {
            double fi = f[i];
            if (fi == 0) continue;
            double *Ai = k->A + i * D;
            for (int64_t j = i; j < D; j++) Ai[j] += fi * f[j];
        }
    }
    for (int64_t i = 0; i < D; i++)
        for (int64_t j = i; j < D; j++) {
            double v = k->A[i * D + j] / (double)n;
            k->A[i * D + j] = k->A[j * D + i] = v;
        }
    const double i1 = (double)k->batch;
    double rho = 1.0 - 1.0 / (i1 + 1.0);
    rho = rho < 0.95 ? rho : 0.95;
    for (int64_t i = 0; i < C * C; i++) {
        c->U[i] = rho * c->U[i] + (1 - rho) * k->G[i];
        c->B[i] = rho * c->B[i] + (1 - rho) * k->G[i];
    }
    for (int64_t i = 0; i < D * D; i++) c->V[i] = rho * c->V[i] + (1 - rho) * k->A[i];
    k->batch++;
    return MIA_OK;
}

/* Collected features of a set for the search: logits and squared projections. */
typedef struct feat_ctx {
    mia_calibrated *c;
    float *logits; /* n x C */
    double *wsq;   /* n x D */
} feat_ctx;

static mia_status feat_batch(void *vctx, const mia_tensor *x, int64_t n, int64_t first,
                             float *out)
{
    (void)out;
    feat_ctx *f = vctx;
    mia_calibrated *c = f->c;
    MIA_TRY(forward_phi(c, x, n));
    memcpy(f->logits + first * c->C, c->logits, (size_t)(n * c->C) * sizeof *c->logits);
    for (int64_t r = 0; r < n; r++) project_sq(c, c->phi + r * c->D, f->wsq + (first + r) * c->D);
    return MIA_OK;
}

/* The paper's FakeData: image i = randn(c,h,w) * 255 truncated toward zero, modulo 256. */
static mia_status fake_noise(mia_dataset **out, int64_t n, int64_t ch, int64_t h, int64_t w,
                             uint64_t seed)
{
    MIA_TRY(mia__dataset_new(out, n, ch, h, w, 1, "fakedata:randn"));
    mia_dataset *d = *out;
    int64_t per = ch * h * w;
    for (int64_t i = 0; i < n; i++) {
        mia_rng r;
        mia__rng_init(&r, seed, (uint64_t)MIA_STREAM_NOISE + ((uint64_t)(i + 1) << 16));
        for (int64_t j = 0; j < per; j++) {
            double v = trunc(mia__rng_normal(&r) * 255.0);
            d->pixels[i * per + j] = (uint8_t)((int64_t)v & 0xFF);
        }
        d->labels[i] = 0;
    }
    mia__dataset_finish(d);
    return MIA_OK;
}

typedef struct search_set {
    int64_t n;
    float *logits;
    double *wsq;
    int32_t *labels;
} search_set;

static void search_set_free(search_set *s)
{
    mia__free(s->logits);
    mia__free(s->wsq);
    mia__free(s->labels);
}

static mia_status collect(mia_calibrated *c, const mia_dataset *d, const mia_eval_opts *eo,
                          search_set *s, bool labels)
{
    memset(s, 0, sizeof *s);
    s->n = mia_dataset_n(d);
    s->logits = mia__malloc((size_t)(s->n * c->C) * sizeof *s->logits);
    s->wsq = mia__malloc((size_t)(s->n * c->D) * sizeof *s->wsq);
    s->labels = mia__malloc((size_t)s->n * sizeof *s->labels);
    if (!s->logits || !s->wsq || !s->labels) return MIA_ERROR(MIA_ERR_NOMEM, "LLLA search set");
    feat_ctx f = {c, s->logits, s->wsq};
    float dummy;
    MIA_TRY(mia__predict_all(c->m, d, eo, feat_batch, &f, 0, &dummy, s->labels, "llla search"));
    if (labels)
        for (int64_t i = 0; i < s->n; i++)
            MIA_CHECK_ARG(s->labels[i] >= 0 && s->labels[i] < c->C,
                          "val label %d of image %" PRId64 " outside [0, %" PRId64 ")",
                          (int)s->labels[i], i, c->C);
    return MIA_OK;
}

static mia_status grid_search(mia_calibrated *c, const mia_llla_opts *o, const search_set *in,
                              const search_set *ood)
{
    const int64_t C = c->C;
    double *buf = mia__malloc((size_t)(4 * C * C + 3 * C) * sizeof *buf);
    if (!buf) return MIA_ERROR(MIA_ERR_NOMEM, "LLLA search buffers");
    double *Sout = buf, *Sb = Sout + C * C, *work = Sb + C * C, *p = work + 2 * C * C;
    double best = INFINITY, best_v = o->grid_lo;
    mia_status s = MIA_OK;
    const double l0 = log10(o->grid_lo), l1 = log10(o->grid_hi);
    double t0 = mia__now();
    for (int g = 0; s == MIA_OK && g < o->n_grid; g++) {
        double var0 = o->n_grid == 1 ? o->grid_lo
                                     : pow(10.0, l0 + (l1 - l0) * g / (double)(o->n_grid - 1));
        s = posterior(c, var0, Sout, Sb, work);
        if (s != MIA_OK) break;
        const double st = sqrt(1.0 / var0);
        double li = 0, lo = 0;
        for (int64_t r = 0; s == MIA_OK && r < in->n; r++) {
            double a = quad_in(c, in->wsq + r * c->D, st);
            s = row_predict(c, in->logits + r * C, a, Sout, Sb, (uint64_t)r,
                            o->n_samples_search, p, work);
            li += -log(p[in->labels[r]] + 1e-8);
        }
        for (int64_t r = 0; s == MIA_OK && r < ood->n; r++) {
            double a = quad_in(c, ood->wsq + r * c->D, st);
            s = row_predict(c, ood->logits + r * C, a, Sout, Sb, (uint64_t)r,
                            o->n_samples_search, p, work);
            for (int64_t j = 0; j < C; j++) lo += -log(p[j] + 1e-8);
        }
        if (s != MIA_OK) break;
        double loss = li / (double)in->n + o->lambda * lo / (double)(ood->n * C);
        if (loss < best) {
            best = loss;
            best_v = var0;
        }
        if (o->progress) {
            double el = mia__now() - t0;
            mia_progress pr = {.struct_size = sizeof pr, .stage = "llla var0 search",
                               .epoch = -1, .epochs = -1, .step = g + 1, .steps = o->n_grid,
                               .loss = loss, .items_per_sec = el > 0 ? (g + 1) / el : 0,
                               .eta_seconds = el * (o->n_grid - g - 1) / (g + 1),
                               .fraction = (g + 1) / (double)o->n_grid};
            if (!o->progress(&pr, o->progress_user_data))
                s = MIA_ERROR(MIA_ERR_CANCELLED, "LLLA search cancelled by the callback");
        }
    }
    mia__free(buf);
    MIA_TRY(s);
    mia__log(MIA_LOG_INFO, "LLLA: var0 = %.6g (search loss %.6f)", best_v, best);
    return mia__llla_set_var0(c, best_v);
}

mia_status mia_calibrated_llla(mia_calibrated **out, mia_model *m, const mia_llla_opts *opts)
{
    mia__error_begin();
    MIA_CHECK_ARG(out, "out is NULL");
    *out = NULL;
    MIA_CHECK_ARG(m, "m is NULL");
    mia_llla_opts o;
    mia_llla_opts_init(&o);
    if (opts) memcpy(&o, opts, opts->struct_size < sizeof o ? opts->struct_size : sizeof o);
    MIA_CHECK_ARG(o.fit, "opts->fit (the Hessian data) is NULL");
    MIA_CHECK_ARG(o.var0 > 0 || o.val, "opts->val is NULL (needed by the var0 search)");
    MIA_CHECK_ARG(o.batch_size >= 1, "opts->batch_size must be >= 1");
    MIA_CHECK_ARG(o.n_samples >= 1 && o.n_samples_search >= 1, "opts->n_samples must be >= 1");
    MIA_CHECK_ARG(o.n_grid >= 1, "opts->n_grid must be >= 1");
    MIA_CHECK_ARG(o.grid_lo > 0 && o.grid_hi >= o.grid_lo && isfinite(o.grid_hi),
                  "opts->grid_lo/grid_hi must satisfy 0 < lo <= hi");
    MIA_CHECK_ARG(o.lambda >= 0 && isfinite(o.lambda), "opts->lambda must be >= 0");
    MIA_CHECK_ARG(mia_dataset_n(o.fit) >= 1, "opts->fit is empty");
    mia_graph *g = mia_model_graph(m);
    int outn = mia_graph_output(g);
    MIA_CHECK_ARG(outn >= 0 && g->nodes[outn].op == OP_LINEAR && g->nodes[outn].bias,
                  "model '%s': the output layer is not a linear layer with bias (LLLA needs one)",
                  mia_model_arch(m));
    mia_calibrated *c = mia__calloc(1, sizeof *c);
    if (!c) return MIA_ERROR(MIA_ERR_NOMEM, "calibrated model");
    c->method = MIA_CALIB_LLLA;
    c->m = m;
    c->T = NAN;
    c->phi_node = g->nodes[outn].in[0];
    c->D = g->nodes[c->phi_node].numel;
    c->C = mia_model_n_classes(m);
    c->n_samples = o.n_samples;
    c->seed = o.seed;
    c->paper_exact = o.paper_exact;
    c->n_fit = mia_dataset_n(o.fit);
    const int64_t C = c->C, D = c->D;
    mia_status s = MIA_OK;
    if (C > 1024) s = MIA_ERROR(MIA_ERR_INVALID, "LLLA: %" PRId64 " classes (max 1024)", C);
    kfac_ctx k;
    memset(&k, 0, sizeof k);
    if (s == MIA_OK) {
        c->U = mia__calloc((size_t)(C * C), sizeof *c->U);
        c->B = mia__calloc((size_t)(C * C), sizeof *c->B);
        c->V = mia__calloc((size_t)(D * D), sizeof *c->V);
        c->Q = mia__malloc((size_t)(D * D) * sizeof *c->Q);
        c->lam = mia__malloc((size_t)D * sizeof *c->lam);
        c->Sout = mia__malloc((size_t)(C * C) * sizeof *c->Sout);
        c->Sb = mia__malloc((size_t)(C * C) * sizeof *c->Sb);
        k.G = mia__malloc((size_t)(C * C) * sizeof *k.G);
        k.A = mia__malloc((size_t)(D * D) * sizeof *k.A);
        if (!c->U || !c->B || !c->V || !c->Q || !c->lam || !c->Sout || !c->Sb || !k.G || !k.A)
            s = MIA_ERROR(MIA_ERR_NOMEM, "LLLA factors (D = %" PRId64 ", C = %" PRId64 ")", D,
                          C);
    }
    mia_eval_opts eo;
    mia_eval_opts_init(&eo);
    eo.batch_size = o.batch_size;
    eo.transform = o.transform;
    if (s == MIA_OK) {
        k.c = c;
        mia__rng_init(&k.rng, o.seed, MIA_STREAM_CALIB);
        float dummy;
        s = mia__predict_all(m, o.fit, &eo, kfac_batch, &k, 0, &dummy, NULL, "llla hessian");
    }
    mia__free(k.G);
    mia__free(k.A);
    if (s == MIA_OK) {
        const double sn = sqrt((double)c->n_fit), n = (double)c->n_fit;
        for (int64_t i = 0; i < C * C; i++) {
            c->U[i] *= sn;
            c->B[i] *= n;
        }
        for (int64_t i = 0; i < D * D; i++) c->V[i] *= sn;
        s = sym_eigen(c->V, c->Q, c->lam, D);
    }
    if (s == MIA_OK && o.var0 > 0) s = mia__llla_set_var0(c, o.var0);
    if (s == MIA_OK && !(o.var0 > 0)) {
        search_set in, ood;
        memset(&in, 0, sizeof in);
        memset(&ood, 0, sizeof ood);
        mia_dataset *noise = NULL;
        s = collect(c, o.val, &eo, &in, true);
        const mia_dataset *od = o.ood;
        if (s == MIA_OK && !od) {
            s = fake_noise(&noise, mia_dataset_n(o.val), mia_dataset_channels(o.val),
                           mia_dataset_height(o.val), mia_dataset_width(o.val), o.seed);
            od = noise;
        }
        if (s == MIA_OK) s = collect(c, od, &eo, &ood, false);
        if (s == MIA_OK) s = grid_search(c, &o, &in, &ood);
        search_set_free(&in);
        search_set_free(&ood);
        mia_dataset_free(noise);
    }
    if (s != MIA_OK) {
        mia_calibrated_free(c);
        return s;
    }
    *out = c;
    return MIA_OK;
}
