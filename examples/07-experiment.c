/*
 * Tutorial 7: the paper's whole experiment through the API.
 *
 * mia_experiment_run() does everything the earlier lessons did by hand, from one JSON config:
 * split the data into target/shadow train/test parts, train a target and a shadow model per
 * variant (base, label smoothing, L2), calibrate (temperature, LLLA), generate fakes, build
 * every non-member set, fit each attack on the shadow model, apply it to the target model, and
 * write the paper's CSV files, results.json, SVG plots and a self-contained report.html.
 *
 * The config below is tiny (a few hundred Fashion-MNIST images, 2 epochs, a 10-step GAN) so it
 * finishes in well under a minute; configs/fashion-mnist.json is the real thing. The program
 * prints the FPR table of every variant — the fraction of NON-members each attack wrongly calls
 * members, the paper's key figure — and checks it against the CSV files the run wrote.
 *
 *   ./07-experiment [OUTPUT_DIR]     (default: a temporary folder, removed at the end)
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mia/mia.h>

/* Every key is documented in doc/tools.md (mia-experiment); unknown keys are refused and every
 * error names the key path, e.g. "training.epochs". */
static const char *const config_json =
    "{"
    "  \"name\": \"tutorial\","
    "  \"file_prefix\": \"salem_cnn_tutorial\","
    "  \"dataset\": {\"train\": \"fashion-mnist:train\", \"test\": \"fashion-mnist:test\","
    "              \"channels\": 1, \"height\": 28, \"width\": 28, \"classes\": 10,"
    "              \"mean\": [0.2860], \"std\": [0.3530]},"
    "  \"splits\": {\"seed\": 42, \"train_size\": 300, \"test_size\": 300, \"attack_size\": 150},"
    "  \"model\": {\"arch\": \"salem_cnn\"},"
    "  \"training\": {\"epochs\": 2, \"batch_size\": 32, \"seed\": 42},"
    "  \"variants\": [{\"kind\": \"base\"},"
    "               {\"kind\": \"label_smoothing\", \"epsilon\": 0.0083},"
    "               {\"kind\": \"temperature\", \"T\": 10}],"
    "  \"non_members\": [{\"name\": \"Original\", \"kind\": \"test\"},"
    "                  {\"name\": \"Permuted\", \"kind\": \"permuted\"},"
    "                  {\"name\": \"Scaled\", \"kind\": \"scaled\"},"
    "                  {\"name\": \"Uniform Noise\", \"kind\": \"noise_uniform\"},"
    "                  {\"name\": \"Fakes\", \"kind\": \"fakes\"}],"
    "  \"fakes\": {\"gan_steps\": 10},"
    "  \"attacks\": [\"threshold\", \"salem\", \"entropy\"]"
    "}";

/* Progress: print a line whenever the stage label changes (every stage reports through it). */
static bool on_progress(const mia_progress *p, void *user)
{
    char *last = user;
    if (strncmp(last, p->stage, 255) != 0) {
        printf("  [%3.0f%%] %s\n", 100.0 * p->fraction, p->stage);
        snprintf(last, 256, "%s", p->stage);
    }
    return true; /* false would cancel the run (models already trained stay cached) */
}

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

/* The paper's CSV (spec §9.3): header ",Threshold Attack Precision,...", then one row per
 * non-member set, "label,v1,...,v30" with 4 decimals, CRLF line ends. Return the value in the
 * row labelled ROW and the column named COL, or NaN if absent. No field contains a comma. */
static double csv_value(const char *csv, const char *row, const char *col)
{
    int want = -1, k = 0;
    const char *p = csv;
    for (const char *e; *p && *p != '\r'; p = *e == ',' ? e + 1 : e, k++) {
        e = p + strcspn(p, ",\r");
        if ((size_t)(e - p) == strlen(col) && strncmp(p, col, (size_t)(e - p)) == 0) want = k;
    }
    if (want < 0) return NAN;
    char key[300];
    snprintf(key, sizeof key, "\r\n%s,", row);
    const char *r = strstr(csv, key);
    if (!r) return NAN;
    r += strlen(key);
    for (int i = 1; i < want; i++) {
        r = strchr(r, ',');
        if (!r) return NAN;
        r++;
    }
    return strtod(r, NULL);
}

int main(int argc, char **argv)
{
    int rc = 1;
    char tmp[] = "/tmp/mia-07-experiment-XXXXXX";
    const char *dir = argc > 1 ? argv[1] : mkdtemp(tmp);
    mia_experiment_config *cfg = NULL;
    mia_experiment_result *r = NULL;
    char *results = NULL;
    if (!dir) { perror("07-experiment: mkdtemp"); return 1; }

    /* 1. Parse and validate the config. */
    if (mia_experiment_config_parse(&cfg, config_json, NULL) != MIA_OK) goto fail;
    char hash[65];
    mia_experiment_config_hash_hex(cfg, hash);
    printf("config '%s' (sha256 %.16s...)\n", mia_experiment_config_name(cfg), hash);

    /* 2. Run it. The run directory caches the trained models under a hash of data + training
     *    config: running this program again with the same OUTPUT_DIR reuses them. */
    mia_experiment_opts o;
    mia_experiment_opts_init(&o);
    o.output_dir = dir;
    o.n_threads = 2;
    char last_stage[256] = "";
    o.progress = on_progress;
    o.progress_user_data = last_stage;
    if (mia_experiment_run(&r, cfg, &o) != MIA_OK) goto fail;
    printf("run finished in %s (%d model(s) from the cache)\nreport: %s\n",
           mia_experiment_result_dir(r), mia_experiment_result_models_cached(r),
           mia_experiment_result_report_path(r));

    /* 3. The FPR table of every variant, from the result handle. */
    const int nv = mia_experiment_result_n_variants(r), ns = mia_experiment_result_n_sets(r);
    const int na = mia_experiment_result_n_attacks(r);
    for (int v = 0; v < nv; v++) {
        printf("\n%s: test accuracy %.3f, ECE %.3f\n  %-16s", mia_experiment_result_variant(r, v),
               mia_experiment_result_accuracy(r, v), mia_experiment_result_ece(r, v), "FPR");
        for (int a = 0; a < na; a++)
            printf(" %17s", mia_attack_kind_name((mia_attack_kind)mia_experiment_result_attack(r, a)));
        for (int s = 0; s < ns; s++) {
            printf("\n  %-16s", mia_experiment_result_set(r, s));
            for (int a = 0; a < na; a++) printf(" %17.4f", mia_experiment_result_fpr(r, v, s, a));
        }
        printf("\n");
    }

    /* 4. Check: the table equals the paper-layout CSV written for each variant. results.json
     *    lists the variants in order, each with its CSV file name ("csv": "..."). */
    char path[1200];
    snprintf(path, sizeof path, "%s/results.json", mia_experiment_result_dir(r));
    results = read_text(path);
    if (!results) { fprintf(stderr, "07-experiment: cannot read %s\n", path); goto done; }
    const char *cur = results;
    int checked = 0, differ = 0;
    for (int v = 0; v < nv; v++) {
        cur = strstr(cur, "\"csv\": \"");
        if (!cur) { fprintf(stderr, "07-experiment: results.json lists too few CSVs\n"); goto done; }
        cur += 8;
        char name[300];
        snprintf(name, sizeof name, "%.*s", (int)strcspn(cur, "\""), cur);
        snprintf(path, sizeof path, "%s/%s", mia_experiment_result_dir(r), name);
        char *csv = read_text(path);
        if (!csv) { fprintf(stderr, "07-experiment: cannot read %s\n", path); goto done; }
        for (int s = 0; s < ns; s++)
            for (int a = 0; a < na; a++) {
                char col[100];
                snprintf(col, sizeof col, "%s FPR",
                         mia_attack_kind_name((mia_attack_kind)mia_experiment_result_attack(r, a)));
                double want = csv_value(csv, mia_experiment_result_set(r, s), col);
                double got = mia_experiment_result_fpr(r, v, s, a);
                /* the CSV rounds to 4 decimals */
                if (!(fabs(want - got) <= 0.5e-4 + 1e-9)) {
                    fprintf(stderr, "07-experiment: %s, %s, %s: API %.6f, CSV %.4f\n", name,
                            mia_experiment_result_set(r, s), col, got, want);
                    differ++;
                }
                checked++;
            }
        free(csv);
    }
    printf("\nFPR table checked against the %d CSV files: %d values, %d different\n", nv, checked,
           differ);
    rc = differ == 0 && checked == nv * ns * na && checked > 0 ? 0 : 1;
    goto done;
fail:
    fprintf(stderr, "07-experiment: %s\n", mia_last_error());
done:
    free(results);
    mia_experiment_result_free(r);
    mia_experiment_config_free(cfg);
    if (argc < 2) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) fprintf(stderr, "07-experiment: could not remove %s\n", dir);
    }
    return rc;
}
