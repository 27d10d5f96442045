/*
 * Salem attack (spec §5.2, paper "Top-3 Confidences"): top-k sorted scores -> MLP k-64-1 trained
 * with BCE-with-logits, Adam lr 0.01, batch 16, early stopping on the training loss (window 15,
 * min diff 0.0005); member iff sigmoid(out) >= 0.5.
 *
 * Not available yet: the MLP is meant to run on the graph/model API (include/mia/graph.h, model
 * arch "mlp") and mia__adam_step, which have not landed. Fitting returns MIA_ERR_UNSUPPORTED.
 */
#include "attack/attack-impl.h"

mia_status mia__salem_fit(mia_attack *a, const mia_score_set *mem, const mia_score_set *non,
                          const mia_attack_opts *o)
{
    (void)a;
    (void)mem;
    (void)non;
    (void)o;
    return MIA_ERROR(MIA_ERR_UNSUPPORTED,
                     "kind: the Salem attack needs the graph/model MLP, not in this build yet");
}

mia_status mia__salem_scores(const mia_attack *a, const char *name, const mia_score_set *x,
                             float *score, uint8_t *pred)
{
    (void)a;
    (void)x;
    (void)score;
    (void)pred;
    return MIA_ERROR(MIA_ERR_UNSUPPORTED, "%s: the Salem attack is not in this build yet", name);
}
