/*
 * LOSS attack (Yeom et al., CSF 2018): per-sample cross-entropy l = -log p_y (p normalised,
 * clamped to [eps, 1 - eps] like the entropy attack). Attack score -l; the threshold is chosen
 * like the threshold attack's (Youden's J on the shadow ROC, member iff -l > tau), not Yeom's
 * "mean training loss" (doc/attacks.md).
 */
#include "attack/attack-impl.h"

MIA_PRIVATE mia_status mia__youden_fit(mia_attack *a, const float *sm, int64_t nm, const float *sn,
                                       int64_t nn);

mia_status mia__loss_fit(mia_attack *a, const mia_score_set *mem, const mia_score_set *non,
                         const mia_attack_opts *o)
{
    (void)o;
    float *sm = mia__malloc((size_t)mem->n * sizeof *sm);
    float *sn = mia__malloc((size_t)non->n * sizeof *sn);
    mia_status s = MIA_OK;
    if (!sm || !sn) s = MIA_ERROR(MIA_ERR_NOMEM, "LOSS attack: out of memory");
    if (s == MIA_OK) s = mia__losses("members", mem, sm);
    if (s == MIA_OK) s = mia__losses("non_members", non, sn);
    if (s == MIA_OK) {
        for (int64_t i = 0; i < mem->n; i++) sm[i] = -sm[i];
        for (int64_t i = 0; i < non->n; i++) sn[i] = -sn[i];
        s = mia__youden_fit(a, sm, mem->n, sn, non->n);
    }
    mia__free(sm);
    mia__free(sn);
    return s;
}
