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
    uint32_t *tmp = mia__malloc((size_t)(nm > nn ? nm : nn) * sizeof *tmp);
    if (!k || !tmp) {
        mia__free(k);
        mia__free(tmp);
        return MIA_ERROR(MIA_ERR_NOMEM, "attack fit: out of memory for %lld keys",
                         (long long)(nm + nn));
    }
    mia__keys_sort(sm, nm, k, tmp);
    mia__keys_sort(sn, nn, k + nm, tmp);
    mia__free(tmp);
    a->tau = mia__youden_sorted(k, nm, k + nm, nn);
    mia__free(k);
    return MIA_OK;
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
    /* max score straight into sort keys and their digit counts: one pass over each score
     * matrix, then two scatter passes per class */
    const int64_t nm = mem->n, nn = non->n;
    uint32_t *k = mia__malloc((size_t)(nm + nn) * sizeof *k);
    uint32_t *tmp = mia__malloc((size_t)(nm > nn ? nm : nn) * sizeof *tmp);
    mia__khist *h = mia__malloc(2 * sizeof *h);
    mia_status s = MIA_OK;
    if (!k || !tmp || !h) s = MIA_ERROR(MIA_ERR_NOMEM, "threshold attack: out of memory");
    if (s == MIA_OK) {
        mia__khist_init(&h[0]);
        mia__khist_init(&h[1]);
        s = mia__max_keys("members", mem, k, &h[0]);
    }
    if (s == MIA_OK) s = mia__max_keys("non_members", non, k + nm, &h[1]);
    if (s == MIA_OK) {
        mia__radix_sort_hist(k, tmp, nm, &h[0]);
        mia__radix_sort_hist(k + nm, tmp, nn, &h[1]);
        a->tau = mia__youden_sorted(k, nm, k + nm, nn);
    }
    mia__free(k);
    mia__free(tmp);
    mia__free(h);
    return s;
}
