/*
 * Tutorial 4: a membership inference attack, the paper's protocol.
 *
 * A target and a shadow model are trained on disjoint data. The attack (threshold on the
 * maximum softmax score, Youden's J) is fitted on the SHADOW model's members vs non-members,
 * then applied to the TARGET model's members vs non-members. Then it is applied to permuted
 * images, which the target never saw: every one it flags is a false positive.
 *
 *   ./04-threshold-attack
 */
#include <stdio.h>
#include <stdlib.h>

#include <mia/mia.h>

enum { N = 600 };

/* Train a SalemCNN on images [first, first + N) of d. */
static mia_status train_on(mia_model **out, mia_backend *be, const mia_dataset *d, int64_t first,
                           uint64_t seed, mia_dataset **members)
{
    int64_t idx[N];
    for (int i = 0; i < N; i++) idx[i] = first + i;
    mia_status s = mia_dataset_subset(members, d, idx, N);
    mia_model_opts mo;
    mia_model_opts_init(&mo);
    mo.in_channels = 1;
    mo.in_h = mo.in_w = 28;
    mo.seed = seed;
    if (s == MIA_OK) s = mia_model_create(out, be, "salem_cnn", &mo);
    mia_train_opts to;
    mia_train_opts_init(&to);
    mia_train_opts_paper(&to, "salem_cnn");
    to.epochs = 12; /* long enough on 600 images to overfit, as the paper's models do */
    to.seed = seed;
    if (s == MIA_OK) s = mia_train(*out, *members, &to, NULL);
    return s;
}

/* Softmax scores of every image of d under m, as an attack score set (caller frees probs). */
static mia_status scores(mia_score_set *out, mia_model *m, const mia_dataset *d)
{
    out->n = mia_dataset_n(d);
    out->n_classes = 10;
    out->labels = NULL;
    float *p = malloc((size_t)(out->n * 10) * sizeof *p);
    out->probs = p;
    if (!p) return MIA_ERR_NOMEM;
    return mia_model_predict_dataset(m, d, MIA_PREDICT_SOFTMAX, NULL, p);
}

int main(void)
{
    int rc = 1;
    mia_backend *be = NULL;
    mia_dataset *all = NULL, *t_mem = NULL, *s_mem = NULL, *t_non = NULL, *s_non = NULL,
                *perm = NULL;
    mia_model *target = NULL, *shadow = NULL;
    mia_score_set sm = {0}, sn = {0}, tm = {0}, tn = {0}, tp = {0};
    mia_attack *atk = NULL;
    mia_attack_result *r1 = NULL, *r2 = NULL;

    mia_dataset_load_opts lo;
    mia_dataset_load_opts_init(&lo);
    lo.max_images = 4 * N;
    if (mia_backend_create(&be, "auto", NULL) != MIA_OK ||
        mia_dataset_load(&all, "fashion-mnist:train", &lo) != MIA_OK)
        goto fail;
    /* Disjoint quarters: target members, shadow members, and a non-member set for each. */
    if (train_on(&target, be, all, 0, 1, &t_mem) != MIA_OK) goto fail;
    if (train_on(&shadow, be, all, N, 2, &s_mem) != MIA_OK) goto fail;
    int64_t idx[N];
    for (int i = 0; i < N; i++) idx[i] = 2 * N + i;
    if (mia_dataset_subset(&t_non, all, idx, N) != MIA_OK) goto fail;
    for (int i = 0; i < N; i++) idx[i] = 3 * N + i;
    if (mia_dataset_subset(&s_non, all, idx, N) != MIA_OK) goto fail;
    if (mia_dataset_permuted(&perm, t_non, 3) != MIA_OK) goto fail;

    if (scores(&sm, shadow, s_mem) || scores(&sn, shadow, s_non) || scores(&tm, target, t_mem) ||
        scores(&tn, target, t_non) || scores(&tp, target, perm))
        goto fail;

    if (mia_attack_fit(&atk, MIA_ATTACK_THRESHOLD, &sm, &sn, NULL) != MIA_OK) goto fail;
    printf("threshold fitted on the shadow model: tau = %.4f\n", mia_attack_threshold(atk));
    if (mia_attack_evaluate(&r1, atk, &tm, &tn) != MIA_OK ||
        mia_attack_evaluate(&r2, atk, &tm, &tp) != MIA_OK)
        goto fail;
    const mia_attack_metrics *a = mia_attack_result_metrics(r1), *b = mia_attack_result_metrics(r2);
    printf("%-22s %8s %8s %8s %8s\n", "non-member set", "FPR", "recall", "AUROC", "TPR@10%");
    printf("%-22s %8.3f %8.3f %8.3f %8.3f\n", "held-out Fashion-MNIST", a->fpr, a->recall,
           a->auroc, a->tpr_at_fpr[0].tpr);
    printf("%-22s %8.3f %8.3f %8.3f %8.3f\n", "permuted pixels", b->fpr, b->recall, b->auroc,
           b->tpr_at_fpr[0].tpr);
    /* TPR at 1% FPR needs >= 100 non-members; at 0.1% it is not resolvable with 600. */
    printf("TPR@0.1%%FPR on held-out: %s\n",
           a->tpr_at_fpr[2].resolvable ? "resolvable" : "not resolvable (too few non-members)");
    rc = a->auroc > 0.5 ? 0 : 1; /* an overfitted target leaks: better than chance */
    goto done;
fail:
    fprintf(stderr, "04-threshold-attack: %s\n", mia_last_error());
done:
    mia_attack_result_free(r2);
    mia_attack_result_free(r1);
    mia_attack_free(atk);
    free((void *)sm.probs); free((void *)sn.probs); free((void *)tm.probs);
    free((void *)tn.probs); free((void *)tp.probs);
    mia_model_free(target);
    mia_model_free(shadow);
    mia_dataset_free(perm); mia_dataset_free(s_non); mia_dataset_free(t_non);
    mia_dataset_free(s_mem); mia_dataset_free(t_mem); mia_dataset_free(all);
    mia_backend_free(be);
    return rc;
}
