/*
 * mia-experiment: the paper's whole pipeline from one JSON config.
 *
 *   mia-experiment run CONFIG [-o DIR] [--threads N] [--backend B] [--data-dir D] [--dry-run]
 *   mia-experiment verify-data CONFIG [--data-dir D]
 *   mia-experiment plan CONFIG            (same as run --dry-run)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool-common.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mia-experiment run CONFIG [-o DIR] [--threads N] [--backend B]\n"
            "                          [--data-dir DIR] [--dry-run] [-v|-q]\n"
            "       mia-experiment verify-data CONFIG [--data-dir DIR]\n"
            "\n"
            "run          train target and shadow models for every variant (cached in the run\n"
            "             directory; an interrupted run resumes), calibrate, generate fakes,\n"
            "             build every non-member set, run every attack and write the paper's\n"
            "             CSV, results.json, SVG plots and report.html\n"
            "  -o DIR       run directory (default: the config's output_dir)\n"
            "  --threads N  intra-op threads (default: all CPUs)\n"
            "  --backend B  auto, onednn, cuda or ref (default auto)\n"
            "  --data-dir D replaces {data} in the config's dataset paths\n"
            "  --dry-run    print the plan (sizes, estimated time, missing data files) only\n"
            "verify-data  check every data file against its manifest (exit 1 if any is bad)\n");
}

static void print_table(const mia_experiment_result *r)
{
    int na = mia_experiment_result_n_attacks(r);
    printf("\nFPR of the base model's attacks per non-member set (test accuracy %.4f, ECE "
           "%.4f):\n", mia_experiment_result_accuracy(r, 0), mia_experiment_result_ece(r, 0));
    printf("  %-22s", "non-member set");
    for (int a = 0; a < na; a++) {
        const char *n = mia_attack_kind_name((mia_attack_kind)mia_experiment_result_attack(r, a));
        char shortn[32];
        snprintf(shortn, sizeof shortn, "%s", n);
        char *sp = strchr(shortn, ' ');
        if (sp) *sp = '\0';
        printf(" %10s", shortn);
    }
    printf("\n");
    for (int s = 0; s < mia_experiment_result_n_sets(r); s++) {
        printf("  %-22s", mia_experiment_result_set(r, s));
        for (int a = 0; a < na; a++) {
            double f = mia_experiment_result_fpr(r, 0, s, a);
            if (isnan(f)) printf(" %10s", "-");
            else printf(" %10.4f", f);
        }
        printf("\n");
    }
    if (mia_experiment_result_n_variants(r) > 1) {
        printf("\nVariants (test accuracy / ECE):");
        for (int v = 0; v < mia_experiment_result_n_variants(r); v++)
            printf("%s %s %.4f / %.4f", v ? "," : "", mia_experiment_result_variant(r, v),
                   mia_experiment_result_accuracy(r, v), mia_experiment_result_ece(r, v));
        printf("\n");
    }
}

int main(int argc, char **argv)
{
    tool_init("mia-experiment");
    tool_set_verbosity(0);
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? TOOL_EXIT_USAGE : TOOL_EXIT_OK;
    }
    const char *cmd = argv[1];
    bool is_run = strcmp(cmd, "run") == 0, is_verify = strcmp(cmd, "verify-data") == 0;
    bool dry = strcmp(cmd, "plan") == 0;
    if (!is_run && !is_verify && !dry) return tool_usage_error("unknown command '%s' (run, "
                                                               "verify-data)\n", cmd);
    const char *config = NULL;
    mia_experiment_opts o;
    mia_experiment_opts_init(&o);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && has_val) o.output_dir = argv[++i];
        else if (strcmp(a, "--threads") == 0 && has_val) {
            int64_t n;
            if (!tool_parse_i64("--threads", argv[++i], 0, 4096, &n)) return TOOL_EXIT_USAGE;
            o.n_threads = (int32_t)n;
        } else if (strcmp(a, "--backend") == 0 && has_val) o.backend = argv[++i];
        else if (strcmp(a, "--data-dir") == 0 && has_val) o.data_dir = argv[++i];
        else if (strcmp(a, "--dry-run") == 0) dry = true;
        else if (strcmp(a, "-v") == 0) tool_set_verbosity(1);
        else if (strcmp(a, "-vv") == 0) tool_set_verbosity(2);
        else if (strcmp(a, "-q") == 0) tool_set_verbosity(-1);
        else if (a[0] == '-' && a[1] != '\0') return tool_usage_error("unknown or incomplete "
                                                                      "option '%s'\n", a);
        else if (!config) config = a;
        else return tool_usage_error("unexpected argument '%s'\n", a);
    }
    if (!config) return tool_usage_error("missing CONFIG (e.g. configs/fashion-mnist.json)\n");
    mia_experiment_config *cfg = NULL;
    mia_status st = mia_experiment_config_load(&cfg, config);
    if (st != MIA_OK) return tool_fail(st, config);
    int rc = TOOL_EXIT_OK;
    if (is_verify) {
        char *text = NULL;
        bool ok = false;
        st = mia_experiment_verify_data(&text, &ok, cfg, &o);
        if (st != MIA_OK) rc = tool_fail(st, "verify-data");
        else {
            fputs(text, stdout);
            rc = ok ? TOOL_EXIT_OK : TOOL_EXIT_FAILURE;
        }
        mia_experiment_free_string(text);
    } else if (dry) {
        char *text = NULL;
        int64_t missing = 0;
        st = mia_experiment_plan(&text, &missing, cfg, &o);
        if (st != MIA_OK) rc = tool_fail(st, "plan");
        else fputs(text, stdout);
        mia_experiment_free_string(text);
    } else {
        o.progress = tool_progress;
        mia_experiment_result *r = NULL;
        st = mia_experiment_run(&r, cfg, &o);
        tool_progress_done();
        if (st != MIA_OK) rc = tool_fail(st, "run");
        else {
            print_table(r);
            printf("\nResults: %s\nReport:  %s\n", mia_experiment_result_dir(r),
                   mia_experiment_result_report_path(r));
            if (mia_experiment_result_models_cached(r) > 0)
                printf("(%d trained model(s) reused from the cache)\n",
                       mia_experiment_result_models_cached(r));
        }
        mia_experiment_result_free(r);
    }
    mia_experiment_config_free(cfg);
    return rc;
}
