/*
 * Threshold attack (spec §5.1, paper "Max. Confidence"): score = max_c p_c; tau = the threshold
 * of sklearn.metrics.roc_curve (drop_intermediate=True) maximising Youden's J (first maximum);
 * member iff score > tau (strict). With logit inputs (not paper_exact) the score is log max p
 * from a float64 log-softmax, rounded to float32: the same ranking as max p, without the ties of
 * a float32 softmax saturating at 1.0f.
 */
#include "attack/attack-impl.h"

/* Fit tau by Youden's J on per-sample scores of both classes (shared with the LOSS attack). */
MIA_PRIVATE mia_status mia__youden_fit(mia_attack *a, const float *sm, int64_t nm, const float *sn,
                                       int64_t nn);

mia_status mia__youden_fit(mia_attack *a, const float *sm, int64_t nm, const float *sn, int64_t nn)
{
    uint32_t *k = mia__malloc((size_t)(nm + nn) * sizeof *k);
    if (!k) return MIA_ERROR(MIA_ERR_NOMEM, "attack fit: out of memory for %lld keys",
                             (long long)(nm + nn));
    for (int64_t i = 0; i < nm; i++) k[i] = mia__f32_key(sm[i]);
    for (int64_t i = 0; i < nn; i++) k[nm + i] = mia__f32_key(sn[i]);
    mia_status s;
    a->tau = mia__youden_keys(k, nm, k + nm, nn, &s);
    mia__free(k);
    return s;
}

mia_status mia__threshold_fit(mia_attack *a, const mia_score_set *mem, const mia_score_set *non,
                              const mia_attack_opts *o)
{
    (void)o;
    if (a->logits) { /* score log max p from a float64 log-softmax */
        float *sm = mia__malloc((size_t)mem->n * sizeof *sm);
        float *sn = mia__malloc((size_t)non->n * sizeof *sn);
        mia_status s = (!sm || !sn) ? MIA_ERROR(MIA_ERR_NOMEM, "threshold attack: out of memory")
                                    : MIA_OK;
        if (s == MIA_OK) s = mia__logit_features("members", mem, a->kind, sm, NULL);
        if (s == MIA_OK) s = mia__logit_features("non_members", non, a->kind, sn, NULL);
        if (s == MIA_OK) s = mia__youden_fit(a, sm, mem->n, sn, non->n);
        mia__free(sm);
        mia__free(sn);
        return s;
    }
    /* max score straight into sort keys: one pass over each score matrix */
    uint32_t *k = mia__malloc((size_t)(mem->n + non->n) * sizeof *k);
    if (!k) return MIA_ERROR(MIA_ERR_NOMEM, "threshold attack: out of memory");
    mia_status s = mia__max_keys("members", mem, k);
    if (s == MIA_OK) s = mia__max_keys("non_members", non, k + mem->n);
    if (s == MIA_OK) a->tau = mia__youden_keys(k, mem->n, k + mem->n, non->n, &s);
    mia__free(k);
    return s;
}
