/*
 * Tutorial 3: train a classifier.
 *
 * Builds SalemCNN (the paper's small CNN) for 1x28x28 Fashion-MNIST, trains it with Adam on
 * 2,000 images for a few epochs, evaluates accuracy, loss, ECE and overconfidence error on
 * held-out images, and saves the weights as safetensors with PyTorch state_dict names.
 *
 *   ./03-train [OUT.safetensors]
 */
#include <stdio.h>

#include <mia/mia.h>

/* Progress callback: one line per epoch end. Returning false would cancel training. */
static bool progress(const mia_progress *p, void *ud)
{
    (void)ud;
    if (p->step == p->steps)
        fprintf(stderr, "epoch %lld/%lld loss %.4f (%.0f img/s)\n", (long long)p->epoch,
                (long long)p->epochs, p->loss, p->items_per_sec);
    return true;
}

int main(int argc, char **argv)
{
    const char *out_path = argc > 1 ? argv[1] : NULL;
    int rc = 1;
    mia_backend *be = NULL;
    mia_dataset *all = NULL, *train = NULL, *test = NULL;
    mia_model *m = NULL;

    mia_dataset_load_opts lo;
    mia_dataset_load_opts_init(&lo);
    lo.max_images = 3000;
    if (mia_backend_create(&be, "auto", NULL) != MIA_OK ||
        mia_dataset_load(&all, "fashion-mnist:train", &lo) != MIA_OK)
        goto fail;

    /* First 2,000 images train, the next 1,000 are held out. */
    int64_t idx[2000];
    for (int i = 0; i < 2000; i++) idx[i] = i;
    if (mia_dataset_subset(&train, all, idx, 2000) != MIA_OK) goto fail;
    for (int i = 0; i < 1000; i++) idx[i] = 2000 + i;
    if (mia_dataset_subset(&test, all, idx, 1000) != MIA_OK) goto fail;

    mia_model_opts mo;
    mia_model_opts_init(&mo);
    mo.n_classes = 10;
    mo.in_channels = 1;
    mo.in_h = mo.in_w = 28;
    mo.seed = 1;
    if (mia_model_create(&m, be, "salem_cnn", &mo) != MIA_OK) goto fail;
    printf("salem_cnn: %lld parameters on %s\n", (long long)mia_model_n_params(m),
           mia_backend_type(be));

    /* The paper's preset for SalemCNN (Adam, lr 0.001, batch 64), with fewer epochs. */
    mia_train_opts to;
    mia_train_opts_init(&to);
    mia_train_opts_paper(&to, "salem_cnn");
    to.epochs = 3;
    to.seed = 7;
    to.progress = progress;
    mia_train_result tr;
    if (mia_train(m, train, &to, &tr) != MIA_OK) goto fail;

    mia_eval_result ev;
    if (mia_evaluate(m, test, NULL, &ev) != MIA_OK) goto fail;
    printf("held-out: accuracy %.3f, loss %.4f, ECE %.4f, OE %.4f\n", ev.accuracy, ev.loss,
           ev.ece, ev.oe);

    if (out_path) {
        if (mia_model_save(m, out_path) != MIA_OK) goto fail;
        printf("weights written to %s\n", out_path);
    }
    rc = ev.accuracy > 0.6 ? 0 : 1; /* 3 epochs on 2,000 images reach ~75-80% */
    goto done;
fail:
    fprintf(stderr, "03-train: %s\n", mia_last_error());
done:
    mia_model_free(m);
    mia_dataset_free(test);
    mia_dataset_free(train);
    mia_dataset_free(all);
    mia_backend_free(be);
    return rc;
}
