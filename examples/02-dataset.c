/*
 * Tutorial 2: datasets.
 *
 * A dataset holds decoded u8 images (N, C, H, W), labels and class names, loaded from the
 * real on-disk formats by a spec string: "fashion-mnist:train" (Debian's dataset-fashion-mnist),
 * "idx:IMAGES.gz,LABELS.gz", "cifar10:/data/cifar-10-binary.tar.gz:train", "folder:DIR", ...
 * Subsets are new handles; batches come out as f32 NCHW for the model.
 *
 *   ./02-dataset [SPEC]      (default fashion-mnist:train)
 */
#include <stdio.h>
#include <stdlib.h>

#include <mia/mia.h>

int main(int argc, char **argv)
{
    const char *spec = argc > 1 ? argv[1] : "fashion-mnist:train";
    mia_dataset_load_opts lo;
    mia_dataset_load_opts_init(&lo);
    lo.max_images = 1000; /* read only the first records: quick */

    mia_dataset *ds = NULL;
    if (mia_dataset_load(&ds, spec, &lo) != MIA_OK) {
        fprintf(stderr, "02-dataset: %s\n", mia_last_error());
        return 1;
    }
    char hash[65];
    mia_dataset_hash_hex(ds, hash);
    printf("%s: %lld images of %lldx%lldx%lld, %lld classes\n", mia_dataset_source(ds),
           (long long)mia_dataset_n(ds), (long long)mia_dataset_channels(ds),
           (long long)mia_dataset_height(ds), (long long)mia_dataset_width(ds),
           (long long)mia_dataset_n_classes(ds));
    printf("content hash (SHA-256 of pixels and labels): %s\n", hash);
    printf("first labels:");
    for (int64_t i = 0; i < 8; i++) {
        int32_t y = mia_dataset_label(ds, i);
        printf(" %d (%s)", (int)y, mia_dataset_class_name(ds, y) ? mia_dataset_class_name(ds, y) : "?");
    }
    printf("\n");

    /* Every 10th image as a new dataset (the handle copies what it needs). */
    int64_t idx[100];
    for (int i = 0; i < 100; i++) idx[i] = 10 * i;
    mia_dataset *sub = NULL;
    if (mia_dataset_subset(&sub, ds, idx, 100) != MIA_OK) {
        fprintf(stderr, "02-dataset: %s\n", mia_last_error());
        mia_dataset_free(ds);
        return 1;
    }

    /* A batch of 4 images as floats in [0, 1] (ToTensor), ready to upload to a backend. */
    int64_t c = mia_dataset_channels(sub), h = mia_dataset_height(sub), w = mia_dataset_width(sub);
    float *batch = malloc((size_t)(4 * c * h * w) * sizeof *batch);
    int32_t labels[4];
    int64_t bidx[4] = {0, 1, 2, 3};
    mia_status s = batch ? mia_dataset_batch_f32(sub, bidx, 4, batch, labels, NULL) : MIA_ERR_NOMEM;
    if (s == MIA_OK) {
        double mean = 0;
        for (int64_t i = 0; i < 4 * c * h * w; i++) mean += batch[i];
        printf("batch of 4: labels %d %d %d %d, mean pixel %.4f\n", (int)labels[0],
               (int)labels[1], (int)labels[2], (int)labels[3], mean / (double)(4 * c * h * w));
    } else {
        fprintf(stderr, "02-dataset: %s\n", mia_last_error());
    }
    free(batch);
    mia_dataset_free(sub);
    mia_dataset_free(ds);
    return s == MIA_OK ? 0 : 1;
}
