/* mia-fakegen: train a class-conditional GAN, sample fake-image folders from it or from a
 * converted StyleGAN2-ADA generator, and verify a folder against its manifest.
 *
 *   mia-fakegen train  --data SPEC -o GAN.safetensors [--steps N] [--batch N] [--seed S]
 *                      [--z-dim N] [--width N] [--checkpoint-every N]
 *   mia-fakegen sample (--gan GAN.safetensors | --stylegan2 W.safetensors) -o DIR
 *                      [--per-class N] [--seed S] [--truncation X] [--noise random|const|none]
 *   mia-fakegen verify DIR
 * Common: --backend NAME (default ref), --threads N, -v, -q. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool-common.h"

static int usage(void)
{
    fprintf(stderr,
            "usage: mia-fakegen train --data SPEC -o GAN.safetensors [--steps N] [--batch N]\n"
            "                         [--seed S] [--z-dim N] [--width N] [--checkpoint-every N]\n"
            "       mia-fakegen sample (--gan FILE | --stylegan2 FILE) -o DIR [--per-class N]\n"
            "                          [--seed S] [--truncation X] [--noise random|const|none]\n"
            "       mia-fakegen verify DIR\n"
            "common options: --backend NAME (default ref) --threads N -v -q\n");
    return TOOL_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    tool_init("mia-fakegen");
    if (argc < 2) return usage();
    const char *cmd = argv[1];
    const char *data = NULL, *out = NULL, *gan = NULL, *sg2 = NULL, *backend = "ref";
    const char *noise = "random";
    int64_t steps = 2000, batch = 64, seed = -1, zdim = 64, width = 32, ck_every = 500;
    int64_t per_class = 100, threads = 0;
    double trunc = -1.0;
    const char *verify_dir = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEEDV() do { if (!v) return tool_usage_error("%s needs a value", a); i++; } while (0)
        if (!strcmp(a, "-v")) tool_set_verbosity(1);
        else if (!strcmp(a, "-q")) tool_set_verbosity(-1);
        else if (!strcmp(a, "--data")) { NEEDV(); data = v; }
        else if (!strcmp(a, "-o")) { NEEDV(); out = v; }
        else if (!strcmp(a, "--gan")) { NEEDV(); gan = v; }
        else if (!strcmp(a, "--stylegan2")) { NEEDV(); sg2 = v; }
        else if (!strcmp(a, "--backend")) { NEEDV(); backend = v; }
        else if (!strcmp(a, "--noise")) { NEEDV(); noise = v; }
        else if (!strcmp(a, "--steps")) { NEEDV(); if (!tool_parse_i64(a, v, 0, INT64_MAX, &steps)) return TOOL_EXIT_USAGE; }
        else if (!strcmp(a, "--batch")) { NEEDV(); if (!tool_parse_i64(a, v, 2, 4096, &batch)) return TOOL_EXIT_USAGE; }
        else if (!strcmp(a, "--seed")) { NEEDV(); if (!tool_parse_i64(a, v, 0, INT64_MAX, &seed)) return TOOL_EXIT_USAGE; }
        else if (!strcmp(a, "--z-dim")) { NEEDV(); if (!tool_parse_i64(a, v, 1, 4096, &zdim)) return TOOL_EXIT_USAGE; }
        else if (!strcmp(a, "--width")) { NEEDV(); if (!tool_parse_i64(a, v, 1, 1024, &width)) return TOOL_EXIT_USAGE; }
        else if (!strcmp(a, "--checkpoint-every")) { NEEDV(); if (!tool_parse_i64(a, v, 1, INT64_MAX, &ck_every)) return TOOL_EXIT_USAGE; }
        else if (!strcmp(a, "--per-class")) { NEEDV(); if (!tool_parse_i64(a, v, 1, 10000000, &per_class)) return TOOL_EXIT_USAGE; }
        else if (!strcmp(a, "--threads")) { NEEDV(); if (!tool_parse_i64(a, v, 0, 1024, &threads)) return TOOL_EXIT_USAGE; }
        else if (!strcmp(a, "--truncation")) { NEEDV(); if (!tool_parse_f64(a, v, 0.0, 100.0, &trunc)) return TOOL_EXIT_USAGE; }
        else if (a[0] != '-' && !verify_dir) verify_dir = a;
        else return tool_usage_error("unknown option '%s'", a);
#undef NEEDV
    }
    if (!strcmp(cmd, "verify")) {
        if (!verify_dir) return tool_usage_error("verify needs DIR");
        int64_t nbad = 0;
        char first[1024];
        mia_status s = mia_gen_verify_folder(verify_dir, &nbad, first, sizeof first);
        if (s != MIA_OK) return tool_fail(s, verify_dir);
        if (nbad) {
            fprintf(stderr, "mia-fakegen: %lld file(s) missing or modified; first: %s\n",
                    (long long)nbad, first);
            return TOOL_EXIT_FAILURE;
        }
        printf("%s: all files match the manifest\n", verify_dir);
        return TOOL_EXIT_OK;
    }
    if (strcmp(cmd, "train") != 0 && strcmp(cmd, "sample") != 0) return usage();
    if (!out) return tool_usage_error("%s needs -o", cmd);
    mia_backend_opts bo;
    mia_backend_opts_init(&bo);
    bo.n_threads = (int)threads;
    mia_backend *be = NULL;
    mia_status s = mia_backend_create(&be, backend, &bo);
    if (s != MIA_OK) return tool_fail(s, backend);
    int rc = TOOL_EXIT_OK;
    if (!strcmp(cmd, "train")) {
        if (!data) {
            mia_backend_free(be);
            return tool_usage_error("train needs --data SPEC");
        }
        mia_dataset *d = NULL;
        s = mia_dataset_load(&d, data, NULL);
        mia_cgan_opts o;
        mia_cgan_opts_init(&o);
        o.steps = steps;
        o.batch_size = (int32_t)batch;
        o.seed = seed < 0 ? 0 : (uint64_t)seed;
        o.z_dim = (int32_t)zdim;
        o.width = (int32_t)width;
        o.checkpoint = out; /* resumes from an existing file */
        o.checkpoint_every = ck_every;
        o.progress = tool_progress;
        mia_cgan *g = NULL;
        if (s == MIA_OK)
            s = mia_cgan_create(&g, be, mia_dataset_n_classes(d) > 0 ? mia_dataset_n_classes(d) : 1,
                                mia_dataset_channels(d), mia_dataset_height(d),
                                mia_dataset_width(d), &o);
        if (s == MIA_OK) s = mia_cgan_train(g, d);
        tool_progress_done();
        if (s != MIA_OK) rc = tool_fail(s, data);
        else printf("trained %lld steps; GAN saved to %s\n", (long long)mia_cgan_step(g), out);
        mia_cgan_free(g);
        mia_dataset_free(d);
    } else {
        if ((gan != NULL) == (sg2 != NULL)) {
            mia_backend_free(be);
            return tool_usage_error("sample needs exactly one of --gan and --stylegan2");
        }
        mia_gen_folder_opts fo;
        mia_gen_folder_opts_init(&fo);
        fo.per_class = per_class;
        if (seed >= 0) fo.seed = (uint64_t)seed;
        fo.progress = tool_progress;
        if (!strcmp(noise, "const")) fo.noise = MIA_STYLEGAN2_NOISE_CONST;
        else if (!strcmp(noise, "none")) fo.noise = MIA_STYLEGAN2_NOISE_NONE;
        else if (strcmp(noise, "random") != 0) {
            mia_backend_free(be);
            return tool_usage_error("--noise must be random, const or none");
        }
        mia_cgan *g = NULL;
        mia_stylegan2 *sg = NULL;
        if (gan) {
            fo.truncation = trunc < 0 ? 0.0f : (float)trunc;
            s = mia_cgan_load(&g, be, gan, NULL);
        } else {
            fo.truncation = trunc < 0 ? 1.0f : (float)trunc;
            s = mia_stylegan2_load(&sg, be, sg2);
        }
        if (s == MIA_OK) s = mia_gen_write_folder(out, g, sg, &fo);
        tool_progress_done();
        if (s != MIA_OK) rc = tool_fail(s, gan ? gan : sg2);
        else printf("wrote %s/Images and %s/manifest.json\n", out, out);
        mia_cgan_free(g);
        mia_stylegan2_free(sg);
    }
    mia_backend_free(be);
    return rc;
}
