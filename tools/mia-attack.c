/*
 * mia-attack: fit membership inference attacks on a shadow model's scores and evaluate them on
 * a target model's members against named non-member sets (the paper's protocol, spec §5-6, §9).
 * Inputs are models + datasets, or per-sample score files; outputs are the paper's CSV, JSON
 * with provenance, per-sample scores, ROC curves and SVG plots. doc/tools.md documents it.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mia/mia.h>

#include "tool-common.h"

#define MAX_SETS 32

static const char *usage_text =
    "usage: mia-attack [options] -o DIR\n"
    "models + datasets:\n"
    "  --target-model M.safetensors --shadow-model S.safetensors\n"
    "  --target-members SPEC --shadow-members SPEC --shadow-non-members SPEC\n"
    "  --non-members NAME=SPEC          (repeatable)\n"
    "  SPEC = DATASET[@INDICES.csv][[:N]][:permuted|:scaled]\n"
    "  --target-train-indices F --shadow-train-indices F   (refused when they overlap)\n"
    "or per-sample score files (index,label,score_0..score_k, as `mia-train predict` writes,\n"
    "  or index,label,logit_0..logit_k: logits, for full-resolution attack features):\n"
    "  --target-member-scores F --shadow-member-scores F --shadow-non-member-scores F\n"
    "  --non-member-scores NAME=F       (repeatable)\n"
    "common:\n"
    "  --attacks LIST    threshold,entropy,salem,loss (default threshold,entropy,salem)\n"
    "  --seed N          Salem MLP and permuted sets (default 42)\n"
    "  --paper-exact     the paper's literal rules where they differ (doc/attacks.md)\n"
    "  --backend NAME    auto|ref|onednn|cuda (default auto)   --threads N (default 0: all)\n"
    "  --batch N         inference batch (default 256)   -q/-v quieter/more verbose\n";

/* One named set of scores: probabilities or logits [n, c] and labels [n] (-1 = none). */
typedef struct score_set {
    char name[128];
    char hash[65];   /* dataset or score-file hash */
    const float *probs;     /* probabilities, or logits when .logits */
    bool logits;
    const int32_t *labels;
    float *own_probs;       /* predict()'s buffers behind probs / labels (models mode) */
    int32_t *own_labels;
    mia_score_file *file;   /* the score file behind probs / labels (score mode) */
    int64_t n, c;
    bool has_labels;
    int64_t *train_idx; /* index list of the spec (member sets), for the overlap check */
    int64_t n_train_idx;
    char base[512];
} score_set;

/* A parsed SPEC: base dataset spec, optional index file, head count and derived kind. */
typedef struct set_spec {
    char base[512];
    char index_file[512];
    int64_t head; /* 0 = all */
    int derived;  /* 0 none, 1 permuted, 2 scaled */
} set_spec;

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static bool parse_spec(const char *opt, const char *in, set_spec *sp)
{
    memset(sp, 0, sizeof *sp);
    char buf[1200];
    if (strlen(in) >= sizeof buf) {
        tool_usage_error("%s: spec too long", opt);
        return false;
    }
    strcpy(buf, in);
    if (ends_with(buf, ":permuted")) {
        sp->derived = 1;
        buf[strlen(buf) - 9] = '\0';
    } else if (ends_with(buf, ":scaled")) {
        sp->derived = 2;
        buf[strlen(buf) - 7] = '\0';
    }
    char *br = strstr(buf, "[:");
    if (br && ends_with(br, "]")) {
        br[strlen(br) - 1] = '\0';
        if (!tool_parse_i64(opt, br + 2, 1, INT64_MAX, &sp->head)) return false;
        *br = '\0';
    }
    char *at = strrchr(buf, '@');
    if (at) {
        *at = '\0';
        snprintf(sp->index_file, sizeof sp->index_file, "%s", at + 1);
        if (!sp->index_file[0]) {
            tool_usage_error("%s: empty index file after '@'", opt);
            return false;
        }
    }
    if (!buf[0] || strlen(buf) >= sizeof sp->base) {
        tool_usage_error("%s: bad dataset spec '%s'", opt, in);
        return false;
    }
    strcpy(sp->base, buf);
    return true;
}

/* Load a SPEC as a dataset (subset and derived as requested). */
static int load_spec(const char *opt, const set_spec *sp, mia_dataset **out,
                     int64_t **idx_out, int64_t *nidx_out)
{
    *out = NULL;
    mia_dataset *d = NULL, *t = NULL;
    mia_status s = mia_dataset_load(&d, sp->base, NULL);
    if (s != MIA_OK) {
        fprintf(stderr, "mia-attack: %s: ", opt);
        return tool_fail(s, sp->base);
    }
    int64_t *idx = NULL, nidx = 0;
    if (sp->index_file[0]) {
        s = mia_indices_load_csv(&idx, &nidx, sp->index_file);
        if (s != MIA_OK) {
            mia_dataset_free(d);
            return tool_fail(s, sp->index_file);
        }
        if (nidx == 0) {
            mia_dataset_free(d);
            return tool_usage_error("%s: %s holds no indices", opt, sp->index_file);
        }
        s = mia_dataset_subset(&t, d, idx, nidx);
        mia_dataset_free(d);
        d = t;
        if (s != MIA_OK) {
            mia_indices_free(idx);
            return tool_fail(s, sp->index_file);
        }
    }
    if (sp->head > 0 && sp->head < mia_dataset_n(d)) {
        int64_t *h = malloc((size_t)sp->head * sizeof *h);
        if (!h) {
            mia_indices_free(idx);
            mia_dataset_free(d);
            return TOOL_EXIT_NOMEM;
        }
        for (int64_t i = 0; i < sp->head; i++) h[i] = i;
        s = mia_dataset_subset(&t, d, h, sp->head);
        free(h);
        mia_dataset_free(d);
        d = t;
        if (s != MIA_OK) {
            mia_indices_free(idx);
            return tool_fail(s, opt);
        }
        if (idx && nidx > sp->head) nidx = sp->head;
    }
    *out = d;
    if (idx_out) {
        *idx_out = idx;
        *nidx_out = nidx;
    } else {
        mia_indices_free(idx);
    }
    return TOOL_EXIT_OK;
}

/* Logits of model m on dataset d (the attacks compute float64 log-softmax features from them) (normalised with the model's metadata; permuted or
 * scaled as derived requests), batch by batch through mia_model_predict. */
static int predict(mia_model *m, mia_backend *be, const mia_dataset *d, int derived,
                   uint64_t seed, int64_t batch, score_set *out)
{
    int64_t shape[3];
    mia_model_input_shape(m, shape);
    const int64_t n = mia_dataset_n(d), C = mia_model_n_classes(m);
    if (mia_dataset_channels(d) != shape[0] || mia_dataset_height(d) != shape[1] ||
        mia_dataset_width(d) != shape[2]) {
        fprintf(stderr, "mia-attack: %s: images are %lldx%lldx%lld, the model takes "
                "%lldx%lldx%lld\n", out->name, (long long)mia_dataset_channels(d),
                (long long)mia_dataset_height(d), (long long)mia_dataset_width(d),
                (long long)shape[0], (long long)shape[1], (long long)shape[2]);
        return TOOL_EXIT_FAILURE;
    }
    const int64_t numel = shape[0] * shape[1] * shape[2];
    mia_batch_opts bo;
    mia_batch_opts_init(&bo);
    float mean[4] = {0}, stdv[4] = {1, 1, 1, 1};
    mia_model_normalization(m, mean, stdv);
    bool norm = false;
    for (int c = 0; c < shape[0] && c < 4; c++) {
        bo.mean[c] = mean[c];
        bo.std[c] = stdv[c];
        norm = norm || mean[c] != 0.0f || stdv[c] != 1.0f;
    }
    if (norm) bo.flags |= MIA_BATCH_NORMALIZE;
    if (derived == 1) {
        bo.flags |= MIA_BATCH_PERMUTE;
        bo.permute_seed = seed;
    } else if (derived == 2) {
        bo.flags |= MIA_BATCH_SCALE_255;
    }
    out->n = n;
    out->c = C;
    float *z = out->own_probs = malloc((size_t)(n * C) * sizeof *z);
    int32_t *y = out->own_labels = malloc((size_t)n * sizeof *y);
    out->probs = z;
    out->labels = y;
    float *x = malloc((size_t)(batch * numel) * sizeof *x);
    int64_t *idx = malloc((size_t)batch * sizeof *idx);
    mia_tensor *t = NULL;
    mia_status s = (!z || !y || !x || !idx) ? MIA_ERR_NOMEM : MIA_OK;
    out->has_labels = true;
    out->logits = true;
    for (int64_t b = 0; s == MIA_OK && b < n; b += batch) {
        int64_t B = n - b < batch ? n - b : batch;
        for (int64_t i = 0; i < B; i++) idx[i] = b + i;
        s = mia_dataset_batch_f32(d, idx, B, x, y + b, &bo);
        if (s == MIA_OK && (!t || mia_tensor_dim(t, 0) != B)) {
            mia_tensor_free(t);
            t = NULL;
            int64_t ts[4] = {B, shape[0], shape[1], shape[2]};
            s = mia_tensor_create(&t, be, MIA_DTYPE_F32, 4, ts);
        }
        if (s == MIA_OK) s = mia_tensor_upload(t, x, (size_t)(B * numel) * sizeof *x);
        if (s == MIA_OK) s = mia_model_predict(m, t, MIA_PREDICT_LOGITS, z + b * C);
    }
    for (int64_t i = 0; s == MIA_OK && i < n; i++)
        if (y[i] < 0 || y[i] >= C) out->has_labels = false;
    mia_tensor_free(t);
    free(x);
    free(idx);
    if (s != MIA_OK) return tool_fail(s, out->name);
    mia_dataset_hash_hex(d, out->hash);
    return TOOL_EXIT_OK;
}

/* A score file (scores.h describes the format) as a set. */
static int read_scores(const char *path, score_set *out)
{
    mia_status s = mia_score_file_load(&out->file, path);
    if (s != MIA_OK) return tool_fail(s, path);
    const mia_score_set *v = mia_score_file_scores(out->file);
    out->probs = v->probs;
    out->labels = v->labels;
    out->n = v->n;
    out->c = v->n_classes;
    out->logits = mia_score_file_input(out->file) == MIA_INPUT_LOGITS;
    out->has_labels = mia_score_file_labels_valid(out->file);
    snprintf(out->hash, sizeof out->hash, "%s", mia_score_file_sha256(out->file));
    return TOOL_EXIT_OK;
}

static void free_set(score_set *s)
{
    free(s->own_probs);
    free(s->own_labels);
    mia_score_file_free(s->file);
    mia_indices_free(s->train_idx);
    memset(s, 0, sizeof *s);
}

static bool parse_attacks(const char *list, bool use[MIA_ATTACK_KIND_COUNT])
{
    memset(use, 0, MIA_ATTACK_KIND_COUNT * sizeof *use);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (!strcmp(tok, "threshold")) use[MIA_ATTACK_THRESHOLD] = true;
        else if (!strcmp(tok, "entropy")) use[MIA_ATTACK_ENTROPY] = true;
        else if (!strcmp(tok, "salem")) use[MIA_ATTACK_SALEM] = true;
        else if (!strcmp(tok, "loss")) use[MIA_ATTACK_LOSS] = true;
        else {
            tool_usage_error("--attacks: unknown attack '%s' (threshold, entropy, salem, loss)",
                             tok);
            return false;
        }
    }
    return true;
}

static const char *short_name(mia_attack_kind k)
{
    switch (k) {
    case MIA_ATTACK_THRESHOLD: return "threshold";
    case MIA_ATTACK_SALEM: return "salem";
    case MIA_ATTACK_ENTROPY: return "entropy";
    case MIA_ATTACK_LOSS: return "loss";
    }
    return "unknown";
}

typedef struct cli {
    const char *target_model, *shadow_model;
    const char *target_members, *shadow_members, *shadow_non_members;
    const char *target_train_idx, *shadow_train_idx;
    const char *nm_name[MAX_SETS], *nm_spec[MAX_SETS];
    int n_nm;
    const char *tm_scores, *sm_scores, *sn_scores;
    const char *nms_name[MAX_SETS], *nms_file[MAX_SETS];
    int n_nms;
    const char *attacks, *backend, *out_dir;
    int64_t seed, threads, batch;
    bool paper_exact;
    int verbosity;
} cli;

static bool split_named(const char *opt, const char *arg, const char **name, const char **val,
                        int *count)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1]) {
        tool_usage_error("%s: expected NAME=VALUE, got '%s'", opt, arg);
        return false;
    }
    if (*count >= MAX_SETS) {
        tool_usage_error("%s: at most %d non-member sets", opt, MAX_SETS);
        return false;
    }
    static char names[2 * MAX_SETS][128]; /* the names outlive main's use of them */
    static int used = 0;
    size_t nl = (size_t)(eq - arg);
    if (nl >= sizeof names[0] || used >= 2 * MAX_SETS) {
        tool_usage_error("%s: set name too long or too many sets", opt);
        return false;
    }
    char *nm = names[used++];
    memcpy(nm, arg, nl);
    nm[nl] = '\0';
    name[*count] = nm;
    val[*count] = eq + 1;
    (*count)++;
    return true;
}

static int parse_args(int argc, char **argv, cli *c)
{
    enum {
        O_TM = 1000, O_SM, O_TMEM, O_SMEM, O_SNON, O_NM, O_TMS, O_SMS, O_SNS, O_NMS, O_ATT,
        O_SEED, O_BE, O_THR, O_BATCH, O_PE, O_TTI, O_STI
    };
    static const struct option opts[] = {
        {"target-model", required_argument, NULL, O_TM},
        {"shadow-model", required_argument, NULL, O_SM},
        {"target-members", required_argument, NULL, O_TMEM},
        {"shadow-members", required_argument, NULL, O_SMEM},
        {"shadow-non-members", required_argument, NULL, O_SNON},
        {"non-members", required_argument, NULL, O_NM},
        {"target-member-scores", required_argument, NULL, O_TMS},
        {"shadow-member-scores", required_argument, NULL, O_SMS},
        {"shadow-non-member-scores", required_argument, NULL, O_SNS},
        {"non-member-scores", required_argument, NULL, O_NMS},
        {"target-train-indices", required_argument, NULL, O_TTI},
        {"shadow-train-indices", required_argument, NULL, O_STI},
        {"attacks", required_argument, NULL, O_ATT},
        {"seed", required_argument, NULL, O_SEED},
        {"backend", required_argument, NULL, O_BE},
        {"threads", required_argument, NULL, O_THR},
        {"batch", required_argument, NULL, O_BATCH},
        {"paper-exact", no_argument, NULL, O_PE},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    memset(c, 0, sizeof *c);
    c->attacks = "threshold,entropy,salem";
    c->backend = "auto";
    c->seed = 42;
    c->batch = 256;
    int ch;
    while ((ch = getopt_long(argc, argv, "o:hqv", opts, NULL)) != -1) {
        switch (ch) {
        case O_TM: c->target_model = optarg; break;
        case O_SM: c->shadow_model = optarg; break;
        case O_TMEM: c->target_members = optarg; break;
        case O_SMEM: c->shadow_members = optarg; break;
        case O_SNON: c->shadow_non_members = optarg; break;
        case O_NM:
            if (!split_named("--non-members", optarg, c->nm_name, c->nm_spec, &c->n_nm))
                return TOOL_EXIT_USAGE;
            break;
        case O_TMS: c->tm_scores = optarg; break;
        case O_SMS: c->sm_scores = optarg; break;
        case O_SNS: c->sn_scores = optarg; break;
        case O_NMS:
            if (!split_named("--non-member-scores", optarg, c->nms_name, c->nms_file, &c->n_nms))
                return TOOL_EXIT_USAGE;
            break;
        case O_TTI: c->target_train_idx = optarg; break;
        case O_STI: c->shadow_train_idx = optarg; break;
        case O_ATT: c->attacks = optarg; break;
        case O_SEED:
            if (!tool_parse_i64("--seed", optarg, 0, INT64_MAX, &c->seed)) return TOOL_EXIT_USAGE;
            break;
        case O_BE: c->backend = optarg; break;
        case O_THR:
            if (!tool_parse_i64("--threads", optarg, 0, 1024, &c->threads)) return TOOL_EXIT_USAGE;
            break;
        case O_BATCH:
            if (!tool_parse_i64("--batch", optarg, 1, 1 << 20, &c->batch)) return TOOL_EXIT_USAGE;
            break;
        case O_PE: c->paper_exact = true; break;
        case 'o': c->out_dir = optarg; break;
        case 'q': c->verbosity = -1; break;
        case 'v': c->verbosity++; break;
        case 'h': fputs(usage_text, stdout); exit(TOOL_EXIT_OK);
        default: fputs(usage_text, stderr); return TOOL_EXIT_USAGE;
        }
    }
    if (optind < argc) return tool_usage_error("unexpected argument '%s'", argv[optind]);
    if (!c->out_dir) return tool_usage_error("-o DIR is required");
    bool models = c->target_model || c->shadow_model || c->target_members || c->shadow_members ||
                  c->shadow_non_members || c->n_nm;
    bool scores = c->tm_scores || c->sm_scores || c->sn_scores || c->n_nms;
    if (models == scores)
        return tool_usage_error("give either models and datasets or score files (see --help)");
    if (models && (!c->target_model || !c->shadow_model || !c->target_members ||
                   !c->shadow_members || !c->shadow_non_members || !c->n_nm))
        return tool_usage_error("models mode needs --target-model, --shadow-model, "
                                "--target-members, --shadow-members, --shadow-non-members and "
                                "at least one --non-members NAME=SPEC");
    if (scores && (!c->tm_scores || !c->sm_scores || !c->sn_scores || !c->n_nms))
        return tool_usage_error("score mode needs --target-member-scores, "
                                "--shadow-member-scores, --shadow-non-member-scores and at least "
                                "one --non-member-scores NAME=FILE");
    return TOOL_EXIT_OK;
}

/* B14: fitting on the target model's own scores is refused. */
static int refuse_target_fit(const cli *c)
{
    const char *a = c->target_model ? c->target_model : c->tm_scores;
    const char *b = c->target_model ? c->shadow_model : c->sm_scores;
    char ha[65], hb[65];
    mia_status s = mia_report_file_sha256(a, ha);
    if (s == MIA_OK) s = mia_report_file_sha256(b, hb);
    if (s != MIA_OK) return tool_fail(s, a);
    if (strcmp(ha, hb) == 0)
        return tool_usage_error("refusing to fit attack statistics on the target model: %s and "
                                "%s are the same file contents (use a separately trained shadow "
                                "model)", a, b);
    return TOOL_EXIT_OK;
}

/* One set to score with a model. */
typedef struct score_job {
    const char *opt, *spec;
    score_set *dst;
    mia_model *m;
    const char *name;
} score_job;

static void print_metrics_row(const char *attack, const char *set, const mia_attack_metrics *m)
{
    const mia_tpr_at_fpr *t = &m->tpr_at_fpr[1];
    char tpr[64];
    if (t->resolvable)
        snprintf(tpr, sizeof tpr, "%.4f [%.4f, %.4f]", t->tpr, t->ci_low, t->ci_high);
    else
        snprintf(tpr, sizeof tpr, "not resolvable");
    printf("%-17s %-18s %7.4f %9.4f %7.4f %7.4f  %s\n", attack, set, m->fpr, m->precision,
           m->recall, m->auroc, tpr);
}

int main(int argc, char **argv)
{
    tool_init("mia-attack");
    cli c;
    int rc = parse_args(argc, argv, &c);
    if (rc != TOOL_EXIT_OK) return rc;
    tool_set_verbosity(c.verbosity);
    bool use[MIA_ATTACK_KIND_COUNT];
    if (!parse_attacks(c.attacks, use)) return TOOL_EXIT_USAGE;
    if ((rc = refuse_target_fit(&c)) != TOOL_EXIT_OK) return rc;
    if (mkdir(c.out_dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "mia-attack: -o %s: %s\n", c.out_dir, strerror(errno));
        return TOOL_EXIT_FAILURE;
    }

    score_set tm, sm, sn, nm[MAX_SETS];
    memset(&tm, 0, sizeof tm);
    memset(&sm, 0, sizeof sm);
    memset(&sn, 0, sizeof sn);
    memset(nm, 0, sizeof nm);
    int n_nm = 0;
    mia_backend *be = NULL;
    mia_model *target = NULL, *shadow = NULL;
    mia_report *rep = NULL;
    mia_attack_result *results[MIA_ATTACK_KIND_COUNT * MAX_SETS];
    int n_results = 0;
    mia_status s = MIA_OK;
    char model_hash[2][65] = {"", ""};

    if (c.target_model) {
        /* overlap of the training index lists (explicit lists, else the member specs' lists) */
        int64_t *ti = NULL, *si = NULL, nti = 0, nsi = 0;
        if (c.target_train_idx && c.shadow_train_idx) {
            int64_t k = 0;
            s = mia_indices_load_csv(&ti, &nti, c.target_train_idx);
            if (s == MIA_OK) s = mia_indices_load_csv(&si, &nsi, c.shadow_train_idx);
            if (s == MIA_OK) s = mia_indices_overlap(&k, ti, nti, si, nsi);
            mia_indices_free(ti);
            mia_indices_free(si);
            if (s != MIA_OK) {
                rc = tool_fail(s, "--target-train-indices / --shadow-train-indices");
                goto done;
            }
            if (k != 0) {
                rc = tool_usage_error("refusing: --target-train-indices and "
                                      "--shadow-train-indices share %lld samples (target and "
                                      "shadow must be trained on disjoint data)", (long long)k);
                goto done;
            }
        }
        mia_backend_opts bo;
        mia_backend_opts_init(&bo);
        bo.n_threads = (int32_t)c.threads;
        s = mia_backend_create(&be, c.backend, &bo);
        if (s == MIA_OK) s = mia_model_load(&target, be, c.target_model);
        if (s == MIA_OK) s = mia_model_load(&shadow, be, c.shadow_model);
        if (s == MIA_OK) s = mia_report_file_sha256(c.target_model, model_hash[0]);
        if (s == MIA_OK) s = mia_report_file_sha256(c.shadow_model, model_hash[1]);
        if (s != MIA_OK) {
            rc = tool_fail(s, "loading the models");
            goto done;
        }
        score_job jobs[3 + MAX_SETS];
        int nj = 0;
        jobs[nj++] = (score_job){"--target-members", c.target_members, &tm, target,
                                 "target members"};
        jobs[nj++] = (score_job){"--shadow-members", c.shadow_members, &sm, shadow,
                                 "shadow members"};
        jobs[nj++] = (score_job){"--shadow-non-members", c.shadow_non_members, &sn, shadow,
                                 "shadow non-members"};
        for (int i = 0; i < c.n_nm; i++)
            jobs[nj++] = (score_job){"--non-members", c.nm_spec[i], &nm[i], target, c.nm_name[i]};
        for (int j = 0; j < nj; j++) {
            set_spec sp;
            if (!parse_spec(jobs[j].opt, jobs[j].spec, &sp)) {
                rc = TOOL_EXIT_USAGE;
                goto done;
            }
            mia_dataset *d = NULL;
            score_set *dst = jobs[j].dst;
            snprintf(dst->name, sizeof dst->name, "%s", jobs[j].name);
            snprintf(dst->base, sizeof dst->base, "%s", sp.base);
            if (c.verbosity >= 0)
                fprintf(stderr, "mia-attack: scoring %s (%s)\n", jobs[j].name, jobs[j].spec);
            rc = load_spec(jobs[j].opt, &sp, &d, &dst->train_idx,
                           &dst->n_train_idx);
            if (rc == TOOL_EXIT_OK)
                rc = predict(jobs[j].m, be, d, sp.derived, (uint64_t)c.seed, c.batch, dst);
            mia_dataset_free(d);
            if (rc != TOOL_EXIT_OK) goto done;
            if (j >= 3) n_nm++;
        }
        if (!c.target_train_idx && tm.train_idx && sm.train_idx && !strcmp(tm.base, sm.base)) {
            int64_t k = 0;
            s = mia_indices_overlap(&k, tm.train_idx, tm.n_train_idx, sm.train_idx,
                                    sm.n_train_idx);
            if (s != MIA_OK) {
                rc = tool_fail(s, "--target-members / --shadow-members");
                goto done;
            }
            if (k != 0) {
                rc = tool_usage_error("refusing: --target-members and --shadow-members index "
                                      "lists share %lld samples of %s", (long long)k, tm.base);
                goto done;
            }
        }
    } else {
        snprintf(tm.name, sizeof tm.name, "target members");
        snprintf(sm.name, sizeof sm.name, "shadow members");
        snprintf(sn.name, sizeof sn.name, "shadow non-members");
        if ((rc = read_scores(c.tm_scores, &tm)) != TOOL_EXIT_OK) goto done;
        if ((rc = read_scores(c.sm_scores, &sm)) != TOOL_EXIT_OK) goto done;
        if ((rc = read_scores(c.sn_scores, &sn)) != TOOL_EXIT_OK) goto done;
        for (int i = 0; i < c.n_nms; i++) {
            snprintf(nm[i].name, sizeof nm[i].name, "%s", c.nms_name[i]);
            if ((rc = read_scores(c.nms_file[i], &nm[i])) != TOOL_EXIT_OK) goto done;
            n_nm++;
        }
        snprintf(model_hash[0], sizeof model_hash[0], "%s", tm.hash);
        snprintf(model_hash[1], sizeof model_hash[1], "%s", sm.hash);
    }

    /* every set must hold the same kind of scores: the attacks read them all the same way */
    {
        const score_set *all[3] = {&sm, &sn, &tm};
        for (int i = 0; i < 3 + n_nm; i++) {
            const score_set *x = i < 3 ? all[i] : &nm[i - 3];
            if (x->logits != tm.logits) {
                rc = tool_usage_error("%s holds %s but %s holds %s: give every score file the "
                                      "same header (score_0 or logit_0)", x->name,
                                      x->logits ? "logits" : "probabilities", tm.name,
                                      tm.logits ? "logits" : "probabilities");
                goto done;
            }
        }
    }

    /* provenance */
    {
        char cfg[4096] = "", cfg_hash[65];
        size_t len = 0;
        for (int i = 1; i < argc && len < sizeof cfg - 1; i++)
            len += (size_t)snprintf(cfg + len, sizeof cfg - len, "%s\n", argv[i]);
        mia_report_sha256_hex(cfg, strlen(cfg), cfg_hash);
        mia_report_hash dh[3 + MAX_SETS];
        int nd = 0;
        dh[nd++] = (mia_report_hash){"target members", tm.hash};
        dh[nd++] = (mia_report_hash){"shadow members", sm.hash};
        dh[nd++] = (mia_report_hash){"shadow non-members", sn.hash};
        for (int i = 0; i < n_nm; i++) dh[nd++] = (mia_report_hash){nm[i].name, nm[i].hash};
        mia_report_hash mh[2] = {{"target", model_hash[0]}, {"shadow", model_hash[1]}};
        mia_report_provenance p;
        mia_report_provenance_init(&p);
        p.seed = (uint64_t)c.seed;
        p.config_hash = cfg_hash;
        p.datasets = dh;
        p.n_datasets = (size_t)nd;
        p.models = mh;
        p.n_models = 2;
        p.cross_source = true;
        s = mia_report_create(&rep, &p);
        if (s != MIA_OK) {
            rc = tool_fail(s, "report");
            goto done;
        }
    }

    if (c.verbosity >= 0) {
        printf("%-17s %-18s %7s %9s %7s %7s  %s\n", "attack", "non-member set", "FPR",
               "precision", "recall", "AUROC", "TPR@1%FPR [95% CI]");
    }
    for (int k = 0; k < MIA_ATTACK_KIND_COUNT; k++) {
        if (!use[k]) continue;
        bool labels = k == MIA_ATTACK_LOSS;
        if (labels && (!sm.has_labels || !sn.has_labels || !tm.has_labels)) {
            fprintf(stderr, "mia-attack: skipping the LOSS attack: the member sets need labels\n");
            continue;
        }
        mia_score_set fm = {sm.probs, sm.labels, sm.n, sm.c};
        mia_score_set fn = {sn.probs, sn.labels, sn.n, sn.c};
        mia_attack_opts ao;
        mia_attack_opts_init(&ao);
        ao.seed = (uint64_t)c.seed;
        ao.paper_exact = c.paper_exact;
        ao.input = tm.logits ? MIA_INPUT_LOGITS : MIA_INPUT_PROBS;
        mia_attack *a = NULL;
        s = mia_attack_fit(&a, (mia_attack_kind)k, &fm, &fn, &ao);
        if (s != MIA_OK) {
            rc = tool_fail(s, short_name((mia_attack_kind)k));
            goto done;
        }
        mia_score_set xm = {tm.probs, tm.labels, tm.n, tm.c};
        for (int i = 0; i < n_nm; i++) {
            if (labels && !nm[i].has_labels) {
                fprintf(stderr, "mia-attack: LOSS attack: %s has no labels, skipped\n",
                        nm[i].name);
                continue;
            }
            mia_score_set xn = {nm[i].probs, nm[i].labels, nm[i].n, nm[i].c};
            mia_attack_result *r = NULL;
            s = mia_attack_evaluate(&r, a, &xm, &xn);
            if (s == MIA_OK) {
                results[n_results++] = r;
                s = mia_report_add(rep, nm[i].name, r);
            }
            if (s != MIA_OK) {
                mia_attack_free(a);
                rc = tool_fail(s, nm[i].name);
                goto done;
            }
            if (c.verbosity >= 0)
                print_metrics_row(mia_attack_kind_name((mia_attack_kind)k), nm[i].name,
                                  mia_attack_result_metrics(r));
        }
        mia_attack_free(a);
    }

    /* outputs */
    {
        char path[4096];
        snprintf(path, sizeof path, "%s/attack_results.csv", c.out_dir);
        s = mia_report_write_csv(rep, path, true);
        if (s == MIA_OK) {
            snprintf(path, sizeof path, "%s/attack_results.json", c.out_dir);
            s = mia_report_write_json(rep, path);
        }
        if (s == MIA_OK) {
            snprintf(path, sizeof path, "%s/scores.csv", c.out_dir);
            s = mia_report_write_scores_csv(rep, path);
        }
        if (s == MIA_OK) {
            snprintf(path, sizeof path, "%s/roc.csv", c.out_dir);
            s = mia_report_write_roc_csv(rep, path);
        }
        for (int k = 0; s == MIA_OK && k < MIA_ATTACK_KIND_COUNT; k++) {
            bool have = false;
            for (int i = 0; i < n_results; i++)
                have = have || mia_attack_result_kind(results[i]) == (mia_attack_kind)k;
            if (!have) continue;
            snprintf(path, sizeof path, "%s/roc-%s.svg", c.out_dir,
                     short_name((mia_attack_kind)k));
            s = mia_report_write_roc_svg(rep, (mia_attack_kind)k, path);
            if (s == MIA_OK) {
                snprintf(path, sizeof path, "%s/hist-%s.svg", c.out_dir,
                         short_name((mia_attack_kind)k));
                s = mia_report_write_hist_svg(rep, (mia_attack_kind)k, path);
            }
        }
        if (s != MIA_OK) {
            rc = tool_fail(s, path);
            goto done;
        }
        if (c.verbosity >= 0)
            printf("wrote attack_results.csv, attack_results.json, scores.csv, roc.csv and SVG "
                   "plots to %s\n", c.out_dir);
    }
    rc = TOOL_EXIT_OK;

done:
    mia_report_free(rep);
    for (int i = 0; i < n_results; i++) mia_attack_result_free(results[i]);
    free_set(&tm);
    free_set(&sm);
    free_set(&sn);
    for (int i = 0; i < MAX_SETS; i++) free_set(&nm[i]);
    mia_model_free(target);
    mia_model_free(shadow);
    mia_backend_free(be);
    return rc;
}
