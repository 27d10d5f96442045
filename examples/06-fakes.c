/*
 * Tutorial 6: fake images as a non-member set.
 *
 * The paper shows that an overconfident model gives even *generated* images the high scores
 * of its training members, so a score-based attack calls them members. To test that, you need
 * fakes that look like the training data. libmia makes them with a class-conditional GAN
 * (cGAN) trained on any dataset (or runs StyleGAN2-ADA from converted weights: see gen.h).
 *
 * This lesson:
 *   1. trains a tiny cGAN for a few steps on a Fashion-MNIST subset,
 *   2. samples a few images per class into a PNG folder with a SHA-256 manifest,
 *   3. verifies the folder against its manifest, and checks the manifest itself against
 *      SHA-256s we compute independently (coreutils' sha256sum),
 *   4. shows that a modified file is caught,
 *   5. loads the folder back as a dataset and checks every image is exactly what the generator
 *      produces for its (seed, class, index).
 *
 * A few dozen steps do not make convincing garments (doc/fakegen.md says how many do); the
 * point here is the workflow and its guarantees: the same seed always gives byte-identical
 * files, and the manifest lets anyone check them later.
 *
 *   ./06-fakes [OUTPUT_DIR]     (default: a temporary folder, removed at the end)
 */
#define _POSIX_C_SOURCE 200809L /* popen, mkdtemp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mia/mia.h>

#define PER_CLASS 4

/* Print the GAN's progress every 10 steps (loss = discriminator loss). */
static bool on_progress(const mia_progress *p, void *user)
{
    (void)user;
    if (p->step % 10 == 0 || p->step == p->steps)
        printf("  %s step %lld/%lld  D loss %.3f\n", p->stage, (long long)p->step,
               (long long)p->steps, p->loss);
    return true; /* returning false would cancel training */
}

/* Read a whole (small) text file; caller frees. */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    char chunk[4096];
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + n + 1 > cap) {
            cap = 2 * (len + n + 1);
            char *nb = realloc(buf, cap);
            if (!nb) { free(buf); fclose(f); return NULL; }
            buf = nb;
        }
        memcpy(buf + len, chunk, n);
        len += n;
    }
    fclose(f);
    if (buf) buf[len] = '\0';
    return buf;
}

/* Does the manifest list file NAME with SHA-256 HEX? Each manifest entry is an object
 * {"name": ..., "size": ..., "sha256": ...}, so the digest follows the name. */
static bool manifest_lists(const char *manifest, const char *name, const char *hex)
{
    char key[600];
    snprintf(key, sizeof key, "\"name\": \"%s\"", name);
    const char *at = strstr(manifest, key);
    if (!at) return false;
    const char *h = strstr(at, "\"sha256\": \"");
    return h && strncmp(h + 11, hex, 64) == 0 && h[75] == '"';
}

/* Step 3's independent oracle: hash every PNG with sha256sum and look each one up in the
 * manifest. Returns the number of files hashed, or -1 when one is missing or different. */
static int check_manifest_with_sha256sum(const char *dir, const char *manifest)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cd '%s' && sha256sum Images/*/*.png", dir);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    char line[1024];
    int n = 0, bad = 0;
    while (fgets(line, sizeof line, p)) {
        char hex[65], name[512];
        if (sscanf(line, "%64s %511s", hex, name) != 2) { bad++; continue; }
        if (!manifest_lists(manifest, name, hex)) {
            fprintf(stderr, "06-fakes: %s (sha256 %s) is not in the manifest\n", name, hex);
            bad++;
        }
        n++;
    }
    if (pclose(p) != 0) bad++;
    return bad ? -1 : n;
}

int main(int argc, char **argv)
{
    int rc = 1;
    char tmp[] = "/tmp/mia-06-fakes-XXXXXX";
    const char *dir = argc > 1 ? argv[1] : mkdtemp(tmp);
    mia_backend *be = NULL;
    mia_dataset *real = NULL, *fakes = NULL;
    mia_cgan *gan = NULL;
    char *manifest = NULL;
    uint8_t *expect = NULL;
    if (!dir) { perror("06-fakes: mkdtemp"); return 1; }

    /* 1. Data and GAN. The first 640 Fashion-MNIST training images are plenty for a lesson. */
    mia_dataset_load_opts lo;
    mia_dataset_load_opts_init(&lo);
    lo.max_images = 640;
    if (mia_backend_create(&be, "auto", NULL) != MIA_OK ||
        mia_dataset_load(&real, "fashion-mnist:train", &lo) != MIA_OK)
        goto fail;
    const int64_t K = mia_dataset_n_classes(real), C = mia_dataset_channels(real);
    const int64_t H = mia_dataset_height(real), W = mia_dataset_width(real);

    mia_cgan_opts go;
    mia_cgan_opts_init(&go);
    go.width = 16;      /* feature maps: small and fast (default 32) */
    go.batch_size = 32;
    go.steps = 30;      /* a real run uses thousands */
    go.seed = 7;        /* initialisation and batch order */
    go.progress = on_progress;
    if (mia_cgan_create(&gan, be, K, C, H, W, &go) != MIA_OK) goto fail;
    printf("training a %lldx%lldx%lld cGAN with %lld classes for %lld steps\n", (long long)C,
           (long long)H, (long long)W, (long long)K, (long long)go.steps);
    if (mia_cgan_train(gan, real) != MIA_OK) goto fail;

    /* 2. Sample PER_CLASS images of every class into DIR/Images/<class>/<%05d>.png and write
     *    DIR/manifest.json. Image i of class k depends only on (seed, k, i). */
    mia_gen_folder_opts fo;
    mia_gen_folder_opts_init(&fo);
    fo.per_class = PER_CLASS;
    fo.seed = 42;
    if (mia_gen_write_folder(dir, gan, NULL, &fo) != MIA_OK) goto fail;
    printf("wrote %lld fakes to %s/Images with %s/manifest.json\n",
           (long long)(K * PER_CLASS), dir, dir);

    /* 3. Verify: libmia re-hashes every listed file... */
    int64_t n_bad = -1;
    char first_bad[512];
    if (mia_gen_verify_folder(dir, &n_bad, first_bad, sizeof first_bad) != MIA_OK) goto fail;
    printf("mia_gen_verify_folder: %lld bad file(s)\n", (long long)n_bad);
    if (n_bad != 0) { fprintf(stderr, "06-fakes: fresh folder reported bad: %s\n", first_bad); goto done; }
    /* ...and we do not take its word for it: sha256sum hashes the PNGs on disk and every
     * (name, digest) pair must be in the manifest, one entry per file. */
    char mpath[1024];
    snprintf(mpath, sizeof mpath, "%s/manifest.json", dir);
    manifest = read_text(mpath);
    if (!manifest) { fprintf(stderr, "06-fakes: cannot read %s\n", mpath); goto done; }
    int hashed = check_manifest_with_sha256sum(dir, manifest);
    int listed = 0;
    for (const char *q = manifest; (q = strstr(q, "\"sha256\"")) != NULL; q++) listed++;
    printf("sha256sum: %d PNG files, all listed in the manifest with the same digest (%d entries)\n",
           hashed, listed);
    if (hashed != K * PER_CLASS || listed != hashed) {
        fprintf(stderr, "06-fakes: manifest does not match the files on disk\n");
        goto done;
    }

    /* 4. Change one byte of one image: the manifest check must name that file. */
    char victim[1024];
    snprintf(victim, sizeof victim, "%s/Images/class3/00001.png", dir);
    FILE *f = fopen(victim, "r+b");
    if (!f) { perror(victim); goto done; }
    fseek(f, 40, SEEK_SET);
    int byte = fgetc(f);
    fseek(f, 40, SEEK_SET);
    fputc(byte ^ 0xff, f);
    fclose(f);
    if (mia_gen_verify_folder(dir, &n_bad, first_bad, sizeof first_bad) != MIA_OK) goto fail;
    printf("after modifying one file: %lld bad (%s)\n", (long long)n_bad, first_bad);
    if (n_bad != 1 || !strstr(first_bad, "Images/class3/00001.png")) {
        fprintf(stderr, "06-fakes: the modified file was not reported\n");
        goto done;
    }
    f = fopen(victim, "r+b"); /* put the byte back */
    if (!f) { perror(victim); goto done; }
    fseek(f, 40, SEEK_SET);
    fputc(byte, f);
    fclose(f);

    /* 5. Load the folder as a dataset (ImageFolder: one class per sub-folder, files sorted) and
     *    compare every image with a fresh call to the generator: PNG is lossless, so they must
     *    be identical. This is how the experiment pipeline uses fakes as a non-member set. */
    if (mia_gen_load_folder(&fakes, dir) != MIA_OK) goto fail;
    printf("loaded back: %lld images, %lld classes\n", (long long)mia_dataset_n(fakes),
           (long long)mia_dataset_n_classes(fakes));
    if (mia_dataset_n(fakes) != K * PER_CLASS || mia_dataset_n_classes(fakes) != K) goto done;
    expect = malloc((size_t)(PER_CLASS * C * H * W));
    if (!expect) goto done;
    int64_t mismatched = 0;
    for (int64_t k = 0; k < K; k++) {
        if (mia_cgan_generate(gan, (int32_t)k, 0, PER_CLASS, fo.seed, fo.truncation, expect) !=
            MIA_OK)
            goto fail;
        for (int64_t j = 0; j < PER_CLASS; j++) {
            int64_t i = k * PER_CLASS + j;
            /* the generator writes HWC bytes (as PNG stores them), datasets hold CHW */
            const uint8_t *got = mia_dataset_pixels(fakes, i), *want = expect + j * C * H * W;
            bool same = mia_dataset_label(fakes, i) == k;
            for (int64_t c = 0; c < C; c++)
                for (int64_t q = 0; q < H * W; q++)
                    same = same && got[c * H * W + q] == want[q * C + c];
            mismatched += !same;
        }
    }
    printf("images equal to the generator's output for their (seed, class, index): %lld/%lld\n",
           (long long)(K * PER_CLASS - mismatched), (long long)(K * PER_CLASS));
    rc = mismatched == 0 ? 0 : 1;
    goto done;
fail:
    fprintf(stderr, "06-fakes: %s\n", mia_last_error());
done:
    free(expect);
    free(manifest);
    mia_dataset_free(fakes);
    mia_cgan_free(gan);
    mia_dataset_free(real);
    mia_backend_free(be);
    if (argc < 2) { /* remove the temporary folder */
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) fprintf(stderr, "06-fakes: could not remove %s\n", dir);
    }
    return rc;
}
