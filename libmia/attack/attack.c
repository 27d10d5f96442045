/*
 * Public entry points of the attack area: options, validation, per-row features, fit dispatch
 * and prediction. The per-attack rules live in threshold.c, entropy.c, loss.c and salem.c.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>

#include "attack/attack-impl.h"

void mia_attack_opts_init_sized(mia_attack_opts *o, size_t size)
{
    if (!o) return;
    mia_attack_opts d;
    memset(&d, 0, sizeof d);
    d.struct_size = (uint32_t)sizeof d;
    d.seed = 42;
    d.paper_exact = false;
    d.scores_from_target = false;
    d.salem_k = 3;
    d.salem_max_epochs = 10000;
    memcpy(o, &d, size < sizeof d ? size : sizeof d);
    if (size >= sizeof(uint32_t)) o->struct_size = (uint32_t)(size < sizeof d ? size : sizeof d);
}

const char *mia_attack_kind_name(mia_attack_kind kind)
{
    switch (kind) {
    case MIA_ATTACK_THRESHOLD: return "Threshold Attack";
    case MIA_ATTACK_SALEM: return "Salem Attack";
    case MIA_ATTACK_ENTROPY: return "Entropy Attack";
    case MIA_ATTACK_LOSS: return "LOSS Attack";
    }
    return "unknown";
}

mia_status mia__check_set(const char *name, const mia_score_set *x, bool labels)
{
    if (!x) return MIA_ERROR(MIA_ERR_INVALID, "%s: NULL score set", name);
    if (!x->probs) return MIA_ERROR(MIA_ERR_INVALID, "%s: probs is NULL", name);
    if (x->n < 1) return MIA_ERROR(MIA_ERR_INVALID, "%s: n must be >= 1 (got %lld)", name,
                                   (long long)x->n);
    if (x->n_classes < 1)
        return MIA_ERROR(MIA_ERR_INVALID, "%s: n_classes must be >= 1 (got %lld)", name,
                         (long long)x->n_classes);
    size_t bytes;
    if (mia__mul_size((size_t)x->n, (size_t)x->n_classes, &bytes) ||
        mia__mul_size(bytes, sizeof(float), &bytes) || x->n > INT64_MAX / 4)
        return MIA_ERROR(MIA_ERR_INVALID, "%s: n * n_classes overflows", name);
    if (labels) {
        if (!x->labels)
            return MIA_ERROR(MIA_ERR_INVALID, "%s: labels are required by the LOSS attack", name);
        for (int64_t i = 0; i < x->n; i++)
            if (x->labels[i] < 0 || x->labels[i] >= x->n_classes)
                return MIA_ERROR(MIA_ERR_INVALID, "%s: labels[%lld] = %d outside [0, %lld)", name,
                                 (long long)i, (int)x->labels[i], (long long)x->n_classes);
    }
    return MIA_OK;
}

static mia_status bad_value(const char *name, const mia_score_set *x, int64_t i)
{
    const float *row = x->probs + i * x->n_classes;
    for (int64_t c = 0; c < x->n_classes; c++)
        if (!(row[c] >= 0.0f) || isinf(row[c]))
            return MIA_ERROR(MIA_ERR_NUMERIC, "%s: probs[%lld][%lld] = %g is not a finite "
                             "non-negative score", name, (long long)i, (long long)c,
                             (double)row[c]);
    return MIA_ERROR(MIA_ERR_NUMERIC, "%s: row %lld sums to 0 (no probability mass)", name,
                     (long long)i);
}

/* Float bits. For non-negative finite floats the unsigned order of the bits is the float order,
 * and every negative value, NaN and Inf has bits > 0x7f7fffff: an integer max over a row finds
 * the max score and validates the row in one branch-free pass. */
static inline uint32_t fbits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}
#define MIA_F32_MAX_BITS 0x7f7fffffu

/* Slow path of a row whose integer max flagged it: -0.0 is a valid score (it compares >= 0),
 * anything else flagged is an error. Writes the row max. */
static mia_status slow_row(const char *name, const mia_score_set *x, int64_t i, float *mx)
{
    const float *row = x->probs + i * x->n_classes;
    float m = row[0];
    for (int64_t c = 0; c < x->n_classes; c++) {
        if (!(row[c] >= 0.0f && row[c] <= FLT_MAX)) return bad_value(name, x, i);
        m = row[c] > m ? row[c] : m;
    }
    *mx = m;
    return MIA_OK;
}

static inline uint32_t row_umax(const float *row, int64_t C)
{
    uint32_t um = 0;
    for (int64_t c = 0; c < C; c++) {
        uint32_t u = fbits(row[c]);
        um = u > um ? u : um;
    }
    return um;
}

mia_status mia__max_scores(const char *name, const mia_score_set *x, float *out)
{
    const int64_t C = x->n_classes;
    for (int64_t i = 0; i < x->n; i++) {
        uint32_t um = row_umax(x->probs + i * C, C);
        if (um <= MIA_F32_MAX_BITS) memcpy(&out[i], &um, sizeof um);
        else MIA_TRY(slow_row(name, x, i, &out[i]));
    }
    return MIA_OK;
}

mia_status mia__max_keys(const char *name, const mia_score_set *x, uint32_t *keys,
                         mia__khist *h)
{
    const int64_t C = x->n_classes;
    for (int64_t i = 0; i < x->n; i++) {
        uint32_t um = row_umax(x->probs + i * C, C);
        if (um <= MIA_F32_MAX_BITS) {
            keys[i] = um | 0x80000000u; /* mia__f32_key of a non-negative float */
        } else {
            float m;
            MIA_TRY(slow_row(name, x, i, &m));
            keys[i] = mia__f32_key(m);
        }
        if (h) mia__khist_add(h, keys[i]);
    }
    return MIA_OK;
}

mia_status mia__threshold_eval(const mia_attack *a, const char *name, const mia_score_set *x,
                               float *score, uint8_t *pred, uint32_t *keys, mia__khist *h)
{
    const int64_t C = x->n_classes;
    const double tau = a->tau;
    for (int64_t i = 0; i < x->n; i++) {
        uint32_t um = row_umax(x->probs + i * C, C);
        float m;
        if (um <= MIA_F32_MAX_BITS) memcpy(&m, &um, sizeof m);
        else MIA_TRY(slow_row(name, x, i, &m));
        score[i] = m;
        pred[i] = (double)m > tau; /* strict, against sklearn's float64 threshold */
        keys[i] = mia__f32_key(m);
        mia__khist_add(h, keys[i]);
    }
    return MIA_OK;
}

static inline float clamp_eps(float q)
{
    const float lo = MIA_F32_EPS, hi = 1.0f - MIA_F32_EPS;
    return q < lo ? lo : (q > hi ? hi : q);
}

/* Row sum (sequential float32, the order the fixtures were computed in) and row max, validated. */
static inline mia_status row_sum_max(const char *name, const mia_score_set *x, int64_t i,
                                     float *sum, float *mx)
{
    const int64_t C = x->n_classes;
    const float *row = x->probs + i * C;
    uint32_t um = 0;
    float s = 0.0f;
    for (int64_t c = 0; c < C; c++) {
        uint32_t u = fbits(row[c]);
        um = u > um ? u : um;
        s += row[c];
    }
    if (um <= MIA_F32_MAX_BITS) memcpy(mx, &um, sizeof um);
    else MIA_TRY(slow_row(name, x, i, mx));
    if (!(s > 0.0f) || isinf(s)) return bad_value(name, x, i);
    *sum = s;
    return MIA_OK;
}

/* torch.distributions.Categorical(probs=p).entropy() in float32:
 * q = p / sum(p); H = -sum q_c * log(clamp(q_c, eps, 1 - eps)). maxs may be NULL. */
static mia_status entropies_max(const char *name, const mia_score_set *x, float *out,
                                float *maxs)
{
    const int64_t C = x->n_classes;
    for (int64_t i = 0; i < x->n; i++) {
        const float *row = x->probs + i * C;
        float s = 0.0f, mx = 0.0f;
        MIA_TRY(row_sum_max(name, x, i, &s, &mx));
        if (maxs) maxs[i] = mx;
        float h = 0.0f;
        for (int64_t c = 0; c < C; c++) {
            float q = row[c] / s;
            h += q * logf(clamp_eps(q));
        }
        out[i] = -h;
    }
    return MIA_OK;
}

mia_status mia__entropies(const char *name, const mia_score_set *x, float *out)
{
    return entropies_max(name, x, out, NULL);
}

/* Per-row cross-entropy; maxs may be NULL. exact: the float32 clamped rule (paper_exact);
 * else -log(p_y / sum p) in float64 without the upper clamp, floored at log(DBL_MIN) for
 * p_y = 0 so the score stays finite. */
static mia_status losses_max(const char *name, const mia_score_set *x, bool exact, float *out,
                             float *maxs)
{
    const int64_t C = x->n_classes;
    if (exact) {
        for (int64_t i = 0; i < x->n; i++) {
            float s = 0.0f, mx = 0.0f;
            MIA_TRY(row_sum_max(name, x, i, &s, &mx));
            if (maxs) maxs[i] = mx;
            out[i] = -logf(clamp_eps(x->probs[i * C + x->labels[i]] / s));
        }
        return MIA_OK;
    }
    for (int64_t i = 0; i < x->n; i++) {
        const float *row = x->probs + i * C;
        uint32_t um = 0;
        double s = 0.0;
        for (int64_t c = 0; c < C; c++) {
            uint32_t u = fbits(row[c]);
            um = u > um ? u : um;
            s += (double)row[c];
        }
        float mx;
        if (um <= MIA_F32_MAX_BITS) memcpy(&mx, &um, sizeof um);
        else MIA_TRY(slow_row(name, x, i, &mx));
        if (!(s > 0.0)) return bad_value(name, x, i);
        if (maxs) maxs[i] = mx;
        double q = (double)row[x->labels[i]] / s;
        out[i] = (float)-log(q > DBL_MIN ? q : DBL_MIN);
    }
    return MIA_OK;
}

mia_status mia__losses(const char *name, const mia_score_set *x, bool exact, float *out)
{
    return losses_max(name, x, exact, out, NULL);
}

/* ---- logit inputs ---------------------------------------------------------------------------- */

static mia_status bad_logit(const char *name, const mia_score_set *x, int64_t i)
{
    const float *row = x->probs + i * x->n_classes;
    for (int64_t c = 0; c < x->n_classes; c++)
        if (!isfinite(row[c]))
            return MIA_ERROR(MIA_ERR_NUMERIC, "%s: logits[%lld][%lld] = %g is not finite", name,
                             (long long)i, (long long)c, (double)row[c]);
    return MIA_ERROR(MIA_ERR_NUMERIC, "%s: logits row %lld is not finite", name, (long long)i);
}

/* Max and first argmax of a logit row; false when the row has a non-finite value. */
static inline bool logit_row_max(const float *z, int64_t C, float *zm, int64_t *am)
{
    float m = z[0];
    int64_t a = 0;
    bool ok = true;
    for (int64_t c = 0; c < C; c++) {
        ok = ok && isfinite(z[c]);
        if (z[c] > m) {
            m = z[c];
            a = c;
        }
    }
    *zm = m;
    *am = a;
    return ok;
}

mia_status mia__logits_to_probs(const char *name, const mia_score_set *x, bool exact,
                                float *probs)
{
    const int64_t C = x->n_classes;
    for (int64_t i = 0; i < x->n; i++) {
        const float *z = x->probs + i * C;
        float *p = probs + i * C;
        float zm;
        int64_t am;
        if (!logit_row_max(z, C, &zm, &am)) return bad_logit(name, x, i);
        if (exact) { /* torch.softmax on float32: exp(z - max), float32 sum, divide */
            float s = 0.0f;
            for (int64_t c = 0; c < C; c++) {
                p[c] = expf(z[c] - zm);
                s += p[c];
            }
            for (int64_t c = 0; c < C; c++) p[c] /= s;
        } else {
            double s = 0.0;
            for (int64_t c = 0; c < C; c++) s += exp((double)z[c] - (double)zm);
            for (int64_t c = 0; c < C; c++) p[c] = (float)(exp((double)z[c] - (double)zm) / s);
        }
    }
    return MIA_OK;
}

static inline float f32_sat(double v)
{
    return v < -FLT_MAX ? -FLT_MAX : (v > FLT_MAX ? FLT_MAX : (float)v);
}

mia_status mia__logit_features(const char *name, const mia_score_set *x, mia_attack_kind kind,
                               float *out, float *maxs)
{
    const int64_t C = x->n_classes;
    for (int64_t i = 0; i < x->n; i++) {
        const float *z = x->probs + i * C;
        float zmf;
        int64_t am;
        if (!logit_row_max(z, C, &zmf, &am)) return bad_logit(name, x, i);
        /* log p_c = (z_c - z_max) - L, L = log1p(sum_{c != argmax} exp(z_c - z_max)): log p_max
         * = -L keeps full relative resolution however close p_max is to 1. */
        const double zm = (double)zmf;
        double s = 0.0;
        for (int64_t c = 0; c < C; c++)
            if (c != am) s += exp((double)z[c] - zm);
        const double L = log1p(s);
        if (maxs) maxs[i] = (float)exp(-L);
        switch (kind) {
        case MIA_ATTACK_THRESHOLD:
            out[i] = (float)-L;
            break;
        case MIA_ATTACK_LOSS:
            out[i] = f32_sat(((double)z[x->labels[i]] - zm) - L);
            break;
        default: { /* entropy: H = -sum p_c log p_c */
            double h = 0.0;
            for (int64_t c = 0; c < C; c++) {
                double lp = ((double)z[c] - zm) - L;
                h -= exp(lp) * lp;
            }
            out[i] = (float)(h > 0.0 ? h : 0.0);
            break;
        }
        }
    }
    return MIA_OK;
}

mia_status mia__input_view(const mia_attack *a, const char *name, const mia_score_set *x,
                           mia_score_set *view, float **buf)
{
    *view = *x;
    *buf = NULL;
    if (a->input != MIA_INPUT_LOGITS || a->logits) return MIA_OK;
    float *p = mia__malloc((size_t)x->n * (size_t)x->n_classes * sizeof *p);
    if (!p) return MIA_ERROR(MIA_ERR_NOMEM, "%s: out of memory for softmax scores", name);
    mia_status s = mia__logits_to_probs(name, x, a->paper_exact, p);
    if (s != MIA_OK) {
        mia__free(p);
        return s;
    }
    view->probs = p;
    *buf = p;
    return MIA_OK;
}

mia_status mia__attack_scores_max(const mia_attack *a, const char *name, const mia_score_set *x,
                                  float *score, uint8_t *pred, float *maxs)
{
    if (a->logits) { /* full-resolution features of logits (float64 log-softmax) */
        MIA_TRY(mia__logit_features(name, x, a->kind, score, maxs));
        if (a->kind == MIA_ATTACK_ENTROPY) {
            for (int64_t i = 0; i < x->n; i++) {
                pred[i] = score[i] < a->theta_f;
                score[i] = -score[i];
            }
        } else {
            for (int64_t i = 0; i < x->n; i++) pred[i] = (double)score[i] > a->tau;
        }
        return MIA_OK;
    }
    switch (a->kind) {
    case MIA_ATTACK_THRESHOLD:
        MIA_TRY(mia__max_scores(name, x, score));
        /* Strict '>' against tau (a float64 of sklearn's threshold array): ties are non-members. */
        for (int64_t i = 0; i < x->n; i++) pred[i] = (double)score[i] > a->tau;
        if (maxs) memcpy(maxs, score, (size_t)x->n * sizeof *maxs);
        return MIA_OK;
    case MIA_ATTACK_ENTROPY:
        MIA_TRY(entropies_max(name, x, score, maxs));
        /* member iff H < theta, compared in float32 (torch tensor vs Python scalar). */
        for (int64_t i = 0; i < x->n; i++) {
            pred[i] = score[i] < a->theta_f;
            score[i] = -score[i];
        }
        return MIA_OK;
    case MIA_ATTACK_LOSS:
        MIA_TRY(losses_max(name, x, a->paper_exact, score, maxs));
        for (int64_t i = 0; i < x->n; i++) {
            score[i] = -score[i];
            pred[i] = (double)score[i] > a->tau;
        }
        return MIA_OK;
    case MIA_ATTACK_SALEM:
        if (maxs) MIA_TRY(mia__max_scores(name, x, maxs));
        return mia__salem_scores(a, name, x, score, pred);
    }
    return MIA_ERROR(MIA_ERR_INVALID, "attack: unknown kind %d", (int)a->kind);
}

mia_status mia__attack_scores(const mia_attack *a, const char *name, const mia_score_set *x,
                              float *score, uint8_t *pred)
{
    return mia__attack_scores_max(a, name, x, score, pred, NULL);
}

void mia_attack_free(mia_attack *a)
{
    if (!a) return;
    mia__free(a->w1);
    mia__free(a);
}

mia_attack_kind mia_attack_get_kind(const mia_attack *a)
{
    return a ? a->kind : MIA_ATTACK_THRESHOLD;
}

int mia_attack_epochs(const mia_attack *a)
{
    return a && a->kind == MIA_ATTACK_SALEM ? a->salem_epochs : 0;
}

double mia_attack_threshold(const mia_attack *a)
{
    if (!a) return NAN;
    switch (a->kind) {
    case MIA_ATTACK_ENTROPY: return a->theta;
    case MIA_ATTACK_SALEM: return 0.5;
    default: return a->tau;
    }
}

mia_status mia_attack_fit(mia_attack **out, mia_attack_kind kind, const mia_score_set *members,
                          const mia_score_set *non_members, const mia_attack_opts *opts)
{
    mia__error_begin();
    if (out) *out = NULL;
    MIA_CHECK_ARG(out != NULL, "out: NULL");
    MIA_CHECK_ARG((unsigned)kind < MIA_ATTACK_KIND_COUNT, "kind: unknown attack kind %d",
                  (int)kind);
    mia_attack_opts o;
    mia_attack_opts_init(&o);
    if (opts) {
        MIA_CHECK_ARG(opts->struct_size >= sizeof(uint32_t) && opts->struct_size <= sizeof o,
                      "opts: struct_size %u is invalid (call mia_attack_opts_init)",
                      (unsigned)opts->struct_size);
        memcpy(&o, opts, opts->struct_size);
    }
    MIA_CHECK_ARG(!o.scores_from_target,
                  "opts.scores_from_target: refusing to fit attack statistics on the target "
                  "model's scores (fit on a shadow/reference model; reliability bar B14)");
    bool labels = kind == MIA_ATTACK_LOSS;
    MIA_TRY(mia__check_set("members", members, labels));
    MIA_TRY(mia__check_set("non_members", non_members, labels));
    if (members->n_classes != non_members->n_classes)
        return MIA_ERROR(MIA_ERR_INVALID, "non_members: n_classes %lld differs from members' %lld",
                         (long long)non_members->n_classes, (long long)members->n_classes);

    MIA_CHECK_ARG(o.input == MIA_INPUT_PROBS || o.input == MIA_INPUT_LOGITS,
                  "opts.input: unknown score input %d (MIA_INPUT_PROBS or MIA_INPUT_LOGITS)",
                  o.input);

    mia_attack *a = mia__calloc(1, sizeof *a);
    if (!a) return MIA_ERROR(MIA_ERR_NOMEM, "attack: out of memory");
    a->kind = kind;
    a->input = o.input;
    a->paper_exact = o.paper_exact;
    a->logits = o.input == MIA_INPUT_LOGITS && !o.paper_exact && kind != MIA_ATTACK_SALEM;
    mia_score_set vm, vn;
    float *bm = NULL, *bn = NULL;
    mia_status s = mia__input_view(a, "members", members, &vm, &bm);
    if (s == MIA_OK) s = mia__input_view(a, "non_members", non_members, &vn, &bn);
    if (s == MIA_OK) {
        switch (kind) {
        case MIA_ATTACK_THRESHOLD: s = mia__threshold_fit(a, &vm, &vn, &o); break;
        case MIA_ATTACK_ENTROPY: s = mia__entropy_fit(a, &vm, &vn, &o); break;
        case MIA_ATTACK_LOSS: s = mia__loss_fit(a, &vm, &vn, &o); break;
        case MIA_ATTACK_SALEM: s = mia__salem_fit(a, &vm, &vn, &o); break;
        }
    }
    mia__free(bm);
    mia__free(bn);
    if (s != MIA_OK) {
        mia_attack_free(a);
        return s;
    }
    *out = a;
    return MIA_OK;
}

mia_status mia_attack_predict(const mia_attack *a, const mia_score_set *x, float *scores_out,
                              uint8_t *pred_out)
{
    mia__error_begin();
    MIA_CHECK_ARG(a != NULL, "attack: NULL");
    MIA_TRY(mia__check_set("x", x, a->kind == MIA_ATTACK_LOSS));
    mia_score_set v;
    float *buf = NULL;
    MIA_TRY(mia__input_view(a, "x", x, &v, &buf));
    float *sc = scores_out;
    uint8_t *pr = pred_out;
    if (!sc) sc = mia__malloc((size_t)x->n * sizeof *sc);
    if (!pr) pr = mia__malloc((size_t)x->n);
    mia_status s = (!sc || !pr) ? MIA_ERROR(MIA_ERR_NOMEM, "x: out of memory for scores")
                                : mia__attack_scores(a, "x", &v, sc, pr);
    if (sc != scores_out) mia__free(sc);
    if (pr != pred_out) mia__free(pr);
    mia__free(buf);
    return s;
}
