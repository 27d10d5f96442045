/*
 * Tutorial 5: calibration — temperature scaling and last-layer Laplace (LLLA).
 *
 * An overconfident model gives members AND non-members high scores, which is what fools
 * score-based attacks. Calibration changes the scores without changing the predictions much.
 * This example trains a small model, then compares ECE and the mean top score on held-out data
 * for: the raw model, a fitted temperature, the paper's fixed T = 10, and LLLA.
 *
 *   ./05-calibrate
 */
#include <stdio.h>
#include <stdlib.h>

#include <mia/mia.h>

static double mean_max(const float *p, int64_t n, int64_t k)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        float m = p[i * k];
        for (int64_t j = 1; j < k; j++) m = p[i * k + j] > m ? p[i * k + j] : m;
        s += m;
    }
    return s / (double)n;
}

int main(void)
{
    int rc = 1;
    mia_backend *be = NULL;
    mia_dataset *all = NULL, *train = NULL, *held = NULL;
    mia_model *m = NULL;
    mia_calibrated *ts = NULL, *t10 = NULL, *la = NULL;
    float *probs = NULL;

    mia_dataset_load_opts lo;
    mia_dataset_load_opts_init(&lo);
    lo.max_images = 1500;
    if (mia_backend_create(&be, "auto", NULL) != MIA_OK ||
        mia_dataset_load(&all, "fashion-mnist:train", &lo) != MIA_OK)
        goto fail;
    int64_t idx[1000];
    for (int i = 0; i < 1000; i++) idx[i] = i;
    if (mia_dataset_subset(&train, all, idx, 1000) != MIA_OK) goto fail;
    for (int i = 0; i < 500; i++) idx[i] = 1000 + i;
    if (mia_dataset_subset(&held, all, idx, 500) != MIA_OK) goto fail;

    mia_model_opts mo;
    mia_model_opts_init(&mo);
    mo.in_channels = 1;
    mo.in_h = mo.in_w = 28;
    if (mia_model_create(&m, be, "salem_cnn", &mo) != MIA_OK) goto fail;
    mia_train_opts to;
    mia_train_opts_init(&to);
    mia_train_opts_paper(&to, "salem_cnn");
    to.epochs = 8;
    if (mia_train(m, train, &to, NULL) != MIA_OK) goto fail;

    /* Temperature: fitted on held-out logits (NLL), and the paper's fixed T = 10. */
    if (mia_calibrated_fit_temperature(&ts, m, held, NULL) != MIA_OK) goto fail;
    if (mia_calibrated_temperature(&t10, m, 10.0) != MIA_OK) goto fail;
    /* LLLA: KFAC factors on the training set, prior variance searched with held-out data and
     * a noise OOD set (the paper's lambda = 0.25). Seeded, so it is deterministic. */
    mia_llla_opts llo;
    mia_llla_opts_init(&llo);
    llo.fit = train;
    llo.val = held;
    llo.n_grid = 20; /* the paper searches 100 values; 20 keeps the tutorial quick */
    if (mia_calibrated_llla(&la, m, &llo) != MIA_OK) goto fail;

    probs = malloc(500 * 10 * sizeof *probs);
    if (!probs) goto fail;
    mia_eval_result ev;
    if (mia_evaluate(m, held, NULL, &ev) != MIA_OK) goto fail;
    if (mia_model_predict_dataset(m, held, MIA_PREDICT_SOFTMAX, NULL, probs) != MIA_OK) goto fail;
    printf("%-26s acc %.3f  ECE %.4f  mean top score %.3f\n", "uncalibrated", ev.accuracy, ev.ece,
           mean_max(probs, 500, 10));
    mia_calibrated *cs[3] = {ts, t10, la};
    const char *names[3] = {"temperature (fitted)", "temperature T = 10", "LLLA"};
    double nll_fit = 0;
    for (int i = 0; i < 3; i++) {
        mia_eval_result ce;
        if (mia_calibrated_evaluate(cs[i], held, NULL, &ce) != MIA_OK ||
            mia_calibrated_predict_dataset(cs[i], held, NULL, probs) != MIA_OK)
            goto fail;
        printf("%-26s acc %.3f  ECE %.4f  mean top score %.3f", names[i], ce.accuracy, ce.ece,
               mean_max(probs, 500, 10));
        if (i == 0) { printf("  (T = %.3f)", mia_calibrated_T(ts)); nll_fit = ce.loss; }
        if (i == 2) printf("  (var0 = %.3g)", mia_calibrated_var0(la));
        printf("\n");
    }
    /* T is fitted to minimise the NLL of these very images, and T = 1 is one of its candidates:
     * the fitted NLL cannot be worse than the uncalibrated one. (ECE may move either way.) */
    printf("held-out NLL: uncalibrated %.4f, fitted temperature %.4f\n", ev.loss, nll_fit);
    rc = nll_fit <= ev.loss + 1e-6 ? 0 : 1;
    goto done;
fail:
    fprintf(stderr, "05-calibrate: %s\n", mia_last_error());
done:
    free(probs);
    mia_calibrated_free(la); mia_calibrated_free(t10); mia_calibrated_free(ts);
    mia_model_free(m);
    mia_dataset_free(held); mia_dataset_free(train); mia_dataset_free(all);
    mia_backend_free(be);
    return rc;
}
