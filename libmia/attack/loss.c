/*
 * LOSS attack (Yeom et al., CSF 2018): per-sample cross-entropy l = -log p_y. From logits:
 * log-softmax in float64; from probabilities: -log(p_y / sum p) in float64; paper_exact: float32
 * with p clamped to [eps, 1 - eps] like the entropy attack (every p_y >= 1 - eps then ties).
 * Attack score -l; the threshold is chosen
 * like the threshold attack's (Youden's J on the shadow ROC, member iff -l > tau), not Yeom's
 * "mean training loss" (doc/attacks.md).
 */
#include "attack/attack-impl.h"

MIA_PRIVATE mia_status mia__youden_fit(mia_attack *a, const float *sm, int64_t nm, const float *sn,
                                       int64_t nn);

mia_status mia__loss_fit(mia_attack *a, const mia_score_set *mem, const mia_score_set *non,
                         const mia_attack_opts *o)
{
    float *sm = mia__malloc((size_t)mem->n * sizeof *sm);
    float *sn = mia__malloc((size_t)non->n * sizeof *sn);
    mia_status s = MIA_OK;
    if (!sm || !sn) s = MIA_ERROR(MIA_ERR_NOMEM, "LOSS attack: out of memory");
    if (a->logits) { /* log p_y from a float64 log-softmax: already -loss */
        if (s == MIA_OK) s = mia__logit_features("members", mem, a->kind, sm, NULL);
        if (s == MIA_OK) s = mia__logit_features("non_members", non, a->kind, sn, NULL);
        if (s == MIA_OK) s = mia__youden_fit(a, sm, mem->n, sn, non->n);
        mia__free(sm);
        mia__free(sn);
        return s;
    }
    if (s == MIA_OK) s = mia__losses("members", mem, o->paper_exact, sm);
    if (s == MIA_OK) s = mia__losses("non_members", non, o->paper_exact, sn);
    if (s == MIA_OK) {
        for (int64_t i = 0; i < mem->n; i++) sm[i] = -sm[i];
        for (int64_t i = 0; i < non->n; i++) sn[i] = -sn[i];
        s = mia__youden_fit(a, sm, mem->n, sn, non->n);
    }
    mia__free(sm);
    mia__free(sn);
    return s;
}
