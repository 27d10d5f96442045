/*
 * Tutorial 1: backends and tensors.
 *
 * Every computation in libmia runs on a backend: "onednn" (CPU), "cuda" (GPU) or "ref" (the
 * plain-C oracle). "auto" picks the best one this machine has. Tensors are owned by a backend;
 * copies between host memory and a tensor are explicit.
 *
 *   cc 01-tensors.c $(pkg-config --cflags --libs libmia) -o 01-tensors && ./01-tensors
 */
#include <stdio.h>

#include <mia/mia.h>

int main(void)
{
    if (!MIA_CHECK_VERSION()) {
        fprintf(stderr, "01-tensors: libmia %s does not match the headers %s\n",
                mia_version_string(), MIA_VERSION_STRING);
        return 1;
    }
    printf("libmia %s, backends compiled in:", mia_version_string());
    for (size_t i = 0; i < mia_backend_count(); i++)
        printf(" %s%s", mia_backend_name(i), mia_backend_available(mia_backend_name(i)) ? "" : "(no device)");
    printf("\n");

    /* Options structs are initialised with their _init() macro, then adjusted. */
    mia_backend_opts bo;
    mia_backend_opts_init(&bo);
    bo.n_threads = 2;
    mia_backend *be = NULL;
    mia_status s = mia_backend_create(&be, "auto", &bo);
    if (s != MIA_OK) {
        /* Every failure comes with one message naming the culprit. */
        fprintf(stderr, "01-tensors: %s\n", mia_last_error());
        return 1;
    }
    printf("using backend %s with %d thread(s)\n", mia_backend_type(be), mia_backend_n_threads(be));

    /* A 2x3 f32 tensor: upload host values, download them again. */
    int64_t shape[2] = {2, 3};
    mia_tensor *t = NULL;
    if (mia_tensor_create(&t, be, MIA_DTYPE_F32, 2, shape) != MIA_OK) {
        fprintf(stderr, "01-tensors: %s\n", mia_last_error());
        mia_backend_free(be);
        return 1;
    }
    float in[6] = {1, 2, 3, 4, 5, 6}, out[6] = {0};
    mia_tensor_upload(t, in, sizeof in);
    mia_tensor_download(t, out, sizeof out);
    printf("round trip: %g %g %g / %g %g %g\n", out[0], out[1], out[2], out[3], out[4], out[5]);

    /* Errors never abort: a bad shape gives a status and a message. */
    int64_t bad[1] = {0};
    mia_tensor *u = NULL;
    s = mia_tensor_create(&u, be, MIA_DTYPE_F32, 1, bad);
    printf("creating a 0-sized tensor: %s (%s)\n", mia_status_name(s), mia_last_error());

    mia_tensor_free(t);
    mia_backend_free(be); /* the backend outlives everything created on it */
    for (int i = 0; i < 6; i++)
        if (out[i] != in[i]) return 1;
    return s == MIA_ERR_INVALID && u == NULL ? 0 : 1;
}
