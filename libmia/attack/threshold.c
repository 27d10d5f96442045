/*
 * Threshold attack (spec §5.1, paper "Max. Confidence"): score = max_c p_c; tau = the threshold
 * of sklearn.metrics.roc_curve (drop_intermediate=True) maximising Youden's J (first maximum);
 * member iff score > tau (strict).
 */
#include "attack/attack-impl.h"

/* Fit tau by Youden's J on per-sample scores of both classes (shared with the LOSS attack). */
MIA_PRIVATE mia_status mia__youden_fit(mia_attack *a, const float *sm, int64_t nm, const float *sn,
                                       int64_t nn);

mia_status mia__youden_fit(mia_attack *a, const float *sm, int64_t nm, const float *sn, int64_t nn)
{
    mia__roc roc;
    MIA_TRY(mia__roc_build(&roc, sm, nm, sn, nn));
    a->tau = mia__roc_youden(&roc);
    mia__roc_free(&roc);
    return MIA_OK;
}

mia_status mia__threshold_fit(mia_attack *a, const mia_score_set *mem, const mia_score_set *non,
                              const mia_attack_opts *o)
{
    (void)o;
    float *sm = mia__malloc((size_t)mem->n * sizeof *sm);
    float *sn = mia__malloc((size_t)non->n * sizeof *sn);
    mia_status s = MIA_OK;
    if (!sm || !sn) s = MIA_ERROR(MIA_ERR_NOMEM, "threshold attack: out of memory");
    if (s == MIA_OK) s = mia__max_scores("members", mem, sm);
    if (s == MIA_OK) s = mia__max_scores("non_members", non, sn);
    if (s == MIA_OK) s = mia__youden_fit(a, sm, mem->n, sn, non->n);
    mia__free(sm);
    mia__free(sn);
    return s;
}
