/*
 * Report object and its CSV outputs: the paper's attack_results layout (spec §9.3: Python
 * csv.writer, delimiter ',', quotechar '"', QUOTE_MINIMAL, CRLF line ends, f'{v:.4f}' values),
 * per-sample scores and full ROC curves.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#include "report/report-impl.h"

void mia_report_provenance_init_sized(mia_report_provenance *p, size_t size)
{
    if (!p) return;
    mia_report_provenance d;
    memset(&d, 0, sizeof d);
    d.struct_size = (uint32_t)(size < sizeof d ? size : sizeof d);
    memcpy(p, &d, size < sizeof d ? size : sizeof d);
}

static char *dup_or_null(const char *s, bool *fail)
{
    if (!s) return NULL;
    char *d = mia__strdup(s);
    if (!d) *fail = true;
    return d;
}

static void free_hashes(mia__report_hash *h, size_t n)
{
    if (!h) return;
    for (size_t i = 0; i < n; i++) {
        mia__free(h[i].name);
        mia__free(h[i].sha256);
    }
    mia__free(h);
}

static mia__report_hash *copy_hashes(const mia_report_hash *src, size_t n, bool *fail)
{
    if (n == 0) return NULL;
    mia__report_hash *h = mia__calloc(n, sizeof *h);
    if (!h) {
        *fail = true;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        h[i].name = dup_or_null(src[i].name, fail);
        h[i].sha256 = dup_or_null(src[i].sha256, fail);
    }
    return h;
}

void mia_report_free(mia_report *rep)
{
    if (!rep) return;
    mia__free(rep->config_hash);
    mia__free(rep->keep_mask_hash);
    free_hashes(rep->datasets, rep->n_datasets);
    free_hashes(rep->models, rep->n_models);
    for (int i = 0; i < rep->n_sets; i++) mia__free(rep->sets[i]);
    mia__free(rep->sets);
    mia__free(rep->entries);
    mia__free(rep);
}

mia_status mia_report_create(mia_report **out, const mia_report_provenance *prov)
{
    mia__error_begin();
    if (out) *out = NULL;
    MIA_CHECK_ARG(out != NULL, "out: NULL");
    mia_report_provenance p;
    mia_report_provenance_init(&p);
    if (prov) {
        MIA_CHECK_ARG(prov->struct_size >= sizeof(uint32_t) && prov->struct_size <= sizeof p,
                      "prov: struct_size %u is invalid (call mia_report_provenance_init)",
                      (unsigned)prov->struct_size);
        memcpy(&p, prov, prov->struct_size);
    }
    MIA_CHECK_ARG(p.n_datasets == 0 || p.datasets, "prov.datasets: NULL with n_datasets %zu",
                  p.n_datasets);
    MIA_CHECK_ARG(p.n_models == 0 || p.models, "prov.models: NULL with n_models %zu", p.n_models);
    mia_report *rep = mia__calloc(1, sizeof *rep);
    if (!rep) return MIA_ERROR(MIA_ERR_NOMEM, "report: out of memory");
    bool fail = false;
    rep->seed = p.seed;
    rep->cross_source = p.cross_source;
    rep->config_hash = dup_or_null(p.config_hash, &fail);
    rep->keep_mask_hash = dup_or_null(p.keep_mask_hash, &fail);
    rep->datasets = copy_hashes(p.datasets, p.n_datasets, &fail);
    rep->n_datasets = rep->datasets ? p.n_datasets : 0;
    rep->models = copy_hashes(p.models, p.n_models, &fail);
    rep->n_models = rep->models ? p.n_models : 0;
    if (fail) {
        mia_report_free(rep);
        return MIA_ERROR(MIA_ERR_NOMEM, "report: out of memory copying provenance");
    }
    *out = rep;
    return MIA_OK;
}

const mia_attack_result *mia__report_find(const mia_report *rep, int set, mia_attack_kind kind)
{
    for (int i = 0; i < rep->n_entries; i++)
        if (rep->entries[i].set == set && rep->entries[i].res->kind == kind)
            return rep->entries[i].res;
    return NULL;
}

mia_status mia_report_add(mia_report *rep, const char *set_name, const mia_attack_result *res)
{
    mia__error_begin();
    MIA_CHECK_ARG(rep != NULL, "rep: NULL");
    MIA_CHECK_ARG(set_name != NULL && set_name[0], "set_name: NULL or empty");
    MIA_CHECK_ARG(res != NULL, "res: NULL");
    int set = -1;
    for (int i = 0; i < rep->n_sets; i++)
        if (strcmp(rep->sets[i], set_name) == 0) set = i;
    if (set >= 0 && mia__report_find(rep, set, res->kind))
        return MIA_ERROR(MIA_ERR_INVALID, "res: set_name \"%s\" already has a %s result",
                         set_name, mia_attack_kind_name(res->kind));
    if (rep->n_entries == rep->cap_entries) {
        int cap = rep->cap_entries ? 2 * rep->cap_entries : 16;
        void *p = mia__realloc(rep->entries, (size_t)cap * sizeof *rep->entries);
        if (!p) return MIA_ERROR(MIA_ERR_NOMEM, "report: out of memory");
        rep->entries = p;
        rep->cap_entries = cap;
    }
    if (set < 0) {
        if (rep->n_sets == rep->cap_sets) {
            int cap = rep->cap_sets ? 2 * rep->cap_sets : 16;
            void *p = mia__realloc(rep->sets, (size_t)cap * sizeof *rep->sets);
            if (!p) return MIA_ERROR(MIA_ERR_NOMEM, "report: out of memory");
            rep->sets = p;
            rep->cap_sets = cap;
        }
        char *name = mia__strdup(set_name);
        if (!name) return MIA_ERROR(MIA_ERR_NOMEM, "report: out of memory");
        set = rep->n_sets;
        rep->sets[rep->n_sets++] = name;
    }
    rep->entries[rep->n_entries].set = set;
    rep->entries[rep->n_entries].res = res;
    rep->n_entries++;
    return MIA_OK;
}

mia_status mia__csv_field(mia_afile *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) return mia__afile_write(f, s, strlen(s));
    MIA_TRY(mia__afile_write(f, "\"", 1));
    for (const char *p = s; *p; p++) {
        if (*p == '"') MIA_TRY(mia__afile_write(f, "\"\"", 2));
        else MIA_TRY(mia__afile_write(f, p, 1));
    }
    return mia__afile_write(f, "\"", 1);
}

/* Python f'{v:.4f}': glibc rounds the exact binary value like CPython; NaN/Inf spelled its way. */
static mia_status put_f4(mia_afile *f, double v)
{
    if (isnan(v)) return mia__afile_write(f, ",nan", 4);
    if (isinf(v)) return v > 0 ? mia__afile_write(f, ",inf", 4) : mia__afile_write(f, ",-inf", 5);
    return mia__afile_printf(f, ",%.4f", v);
}

static const char *const paper_metrics[10] = {"Precision", "Recall", "AUROC", "AUPR",
                                              "FPR@95%TPR", "FPR", "TP_MMPS", "FP_MMPS",
                                              "FN_MMPS", "TN_MMPS"};
static const mia_attack_kind paper_kinds[3] = {MIA_ATTACK_THRESHOLD, MIA_ATTACK_SALEM,
                                               MIA_ATTACK_ENTROPY};
static const char *const tpr_names[3] = {"TPR@10%FPR", "TPR@1%FPR", "TPR@0.1%FPR"};

static void paper_values(const mia_attack_metrics *m, double v[10])
{
    v[0] = m->precision;
    v[1] = m->recall;
    v[2] = m->auroc;
    v[3] = m->aupr;
    v[4] = m->fpr_at_95_tpr;
    v[5] = m->fpr;
    v[6] = m->tp_mmps;
    v[7] = m->fp_mmps;
    v[8] = m->fn_mmps;
    v[9] = m->tn_mmps;
}

static mia_status header_cell(mia_afile *f, mia_attack_kind k, const char *metric)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s %s", mia_attack_kind_name(k), metric);
    MIA_TRY(mia__afile_write(f, ",", 1));
    return mia__csv_field(f, buf);
}

static mia_status write_paper_csv(const mia_report *rep, mia_afile *f, bool extra)
{
    bool present[MIA_ATTACK_KIND_COUNT] = {false};
    for (int i = 0; i < rep->n_entries; i++) present[rep->entries[i].res->kind] = true;
    /* header */
    for (int a = 0; a < 3; a++)
        for (int j = 0; j < 10; j++) MIA_TRY(header_cell(f, paper_kinds[a], paper_metrics[j]));
    if (extra) {
        for (int k = 0; k < MIA_ATTACK_KIND_COUNT; k++) {
            if (!present[k]) continue;
            if (k == MIA_ATTACK_LOSS)
                for (int j = 0; j < 10; j++)
                    MIA_TRY(header_cell(f, (mia_attack_kind)k, paper_metrics[j]));
            static const char *const ex[] = {"Accuracy", "Balanced Accuracy", "TP", "FP", "FN",
                                             "TN", "N Members", "N Non-Members"};
            for (size_t j = 0; j < sizeof ex / sizeof *ex; j++)
                MIA_TRY(header_cell(f, (mia_attack_kind)k, ex[j]));
            for (int t = 0; t < 3; t++) {
                char buf[64];
                MIA_TRY(header_cell(f, (mia_attack_kind)k, tpr_names[t]));
                snprintf(buf, sizeof buf, "%s CI Low", tpr_names[t]);
                MIA_TRY(header_cell(f, (mia_attack_kind)k, buf));
                snprintf(buf, sizeof buf, "%s CI High", tpr_names[t]);
                MIA_TRY(header_cell(f, (mia_attack_kind)k, buf));
            }
        }
    }
    MIA_TRY(mia__afile_write(f, "\r\n", 2));
    /* rows */
    for (int s = 0; s < rep->n_sets; s++) {
        MIA_TRY(mia__csv_field(f, rep->sets[s]));
        double v[10];
        for (int a = 0; a < 3; a++) {
            const mia_attack_result *r = mia__report_find(rep, s, paper_kinds[a]);
            if (!r) {
                MIA_TRY(mia__afile_write(f, ",,,,,,,,,,", 10));
                continue;
            }
            paper_values(&r->m, v);
            for (int j = 0; j < 10; j++) MIA_TRY(put_f4(f, v[j]));
        }
        if (extra) {
            for (int k = 0; k < MIA_ATTACK_KIND_COUNT; k++) {
                if (!present[k]) continue;
                const mia_attack_result *r = mia__report_find(rep, s, (mia_attack_kind)k);
                int ncols = 8 + 9 + (k == MIA_ATTACK_LOSS ? 10 : 0);
                if (!r) {
                    for (int j = 0; j < ncols; j++) MIA_TRY(mia__afile_write(f, ",", 1));
                    continue;
                }
                const mia_attack_metrics *m = &r->m;
                if (k == MIA_ATTACK_LOSS) {
                    paper_values(m, v);
                    for (int j = 0; j < 10; j++) MIA_TRY(put_f4(f, v[j]));
                }
                MIA_TRY(put_f4(f, m->accuracy));
                MIA_TRY(put_f4(f, m->balanced_accuracy));
                MIA_TRY(mia__afile_printf(f, ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64
                                          ",%" PRId64 ",%" PRId64, m->tp, m->fp, m->fn, m->tn,
                                          m->n_members, m->n_non_members));
                for (int t = 0; t < 3; t++) {
                    const mia_tpr_at_fpr *q = &m->tpr_at_fpr[t];
                    if (!q->resolvable) {
                        MIA_TRY(mia__afile_printf(f, ",%s,%s,%s", "not resolvable",
                                                  "not resolvable", "not resolvable"));
                        continue;
                    }
                    MIA_TRY(put_f4(f, q->tpr));
                    MIA_TRY(put_f4(f, q->ci_low));
                    MIA_TRY(put_f4(f, q->ci_high));
                }
            }
        }
        MIA_TRY(mia__afile_write(f, "\r\n", 2));
    }
    return MIA_OK;
}

/* Open, run the body, commit or abort: one place for the atomic-write protocol. */
typedef mia_status (*body_fn)(const mia_report *rep, mia_afile *f, bool flag);

static mia_status write_atomic(const mia_report *rep, const char *path, body_fn body, bool flag)
{
    mia_afile *f = NULL;
    MIA_TRY(mia__afile_open(&f, path));
    mia_status s = body(rep, f, flag);
    if (s != MIA_OK) {
        mia__afile_abort(f);
        mia__error_prefix("%s", path);
        return s;
    }
    return mia__afile_commit(f);
}

mia_status mia_report_write_csv(const mia_report *rep, const char *path, bool extra_columns)
{
    mia__error_begin();
    MIA_CHECK_ARG(rep != NULL, "rep: NULL");
    MIA_CHECK_ARG(path != NULL && path[0], "path: NULL or empty");
    return write_atomic(rep, path, write_paper_csv, extra_columns);
}

mia_status mia__report_write_prov_comments(const mia_report *rep, mia_afile *f)
{
    MIA_TRY(mia__afile_printf(f, "# libmia %s\n# seed=%" PRIu64 "\n# config_hash=%s\n"
                              "# keep_mask_hash=%s\n# cross_source=%s\n", mia_version_string(),
                              rep->seed, rep->config_hash ? rep->config_hash : "",
                              rep->keep_mask_hash ? rep->keep_mask_hash : "",
                              rep->cross_source ? "true" : "false"));
    for (size_t i = 0; i < rep->n_datasets; i++)
        MIA_TRY(mia__afile_printf(f, "# dataset %s sha256=%s\n",
                                  rep->datasets[i].name ? rep->datasets[i].name : "",
                                  rep->datasets[i].sha256 ? rep->datasets[i].sha256 : ""));
    for (size_t i = 0; i < rep->n_models; i++)
        MIA_TRY(mia__afile_printf(f, "# model %s sha256=%s\n",
                                  rep->models[i].name ? rep->models[i].name : "",
                                  rep->models[i].sha256 ? rep->models[i].sha256 : ""));
    for (int i = 0; i < rep->n_entries; i++) {
        const mia_attack_result *r = rep->entries[i].res;
        MIA_TRY(mia__afile_printf(f, "# counts %s / %s: n_members=%" PRId64
                                  " n_non_members=%" PRId64 "\n", rep->sets[rep->entries[i].set],
                                  mia_attack_kind_name(r->kind), r->n_mem, r->n_non));
    }
    return MIA_OK;
}

static mia_status entry_prefix(const mia_report *rep, mia_afile *f, int e)
{
    MIA_TRY(mia__csv_field(f, rep->sets[rep->entries[e].set]));
    MIA_TRY(mia__afile_write(f, ",", 1));
    MIA_TRY(mia__csv_field(f, mia_attack_kind_name(rep->entries[e].res->kind)));
    return MIA_OK;
}

static mia_status write_scores(const mia_report *rep, mia_afile *f, bool unused)
{
    (void)unused;
    MIA_TRY(mia__report_write_prov_comments(rep, f));
    MIA_TRY(mia__afile_printf(f, "non_member_set,attack,role,index,score,prediction,max_score\n"));
    for (int e = 0; e < rep->n_entries; e++) {
        const mia_attack_result *r = rep->entries[e].res;
        for (int role = 0; role < 2; role++) {
            int64_t n = role ? r->n_non : r->n_mem;
            const float *sc = role ? r->score_non : r->score_mem;
            const float *mx = role ? r->max_non : r->max_mem;
            const uint8_t *pr = role ? r->pred_non : r->pred_mem;
            for (int64_t i = 0; i < n; i++) {
                MIA_TRY(entry_prefix(rep, f, e));
                MIA_TRY(mia__afile_printf(f, ",%s,%" PRId64 ",%.9g,%d,%.9g\n",
                                          role ? "non_member" : "member", i, (double)sc[i],
                                          (int)pr[i], (double)mx[i]));
            }
        }
    }
    return MIA_OK;
}

static mia_status write_roc(const mia_report *rep, mia_afile *f, bool unused)
{
    (void)unused;
    MIA_TRY(mia__report_write_prov_comments(rep, f));
    MIA_TRY(mia__afile_printf(f, "non_member_set,attack,threshold,fpr,tpr,tp,fp\n"));
    for (int e = 0; e < rep->n_entries; e++) {
        const mia_attack_result *r = rep->entries[e].res;
        for (int64_t k = 0; k < r->roc_n; k++) {
            MIA_TRY(entry_prefix(rep, f, e));
            MIA_TRY(mia__afile_printf(f, ",%.9g,%.17g,%.17g,%" PRId64 ",%" PRId64 "\n",
                                      (double)r->roc_thr[k],
                                      (double)r->roc_fp[k] / (double)r->n_non,
                                      (double)r->roc_tp[k] / (double)r->n_mem, r->roc_tp[k],
                                      r->roc_fp[k]));
        }
    }
    return MIA_OK;
}

mia_status mia_report_write_scores_csv(const mia_report *rep, const char *path)
{
    mia__error_begin();
    MIA_CHECK_ARG(rep != NULL, "rep: NULL");
    MIA_CHECK_ARG(path != NULL && path[0], "path: NULL or empty");
    return write_atomic(rep, path, write_scores, false);
}

mia_status mia_report_write_roc_csv(const mia_report *rep, const char *path)
{
    mia__error_begin();
    MIA_CHECK_ARG(rep != NULL, "rep: NULL");
    MIA_CHECK_ARG(path != NULL && path[0], "path: NULL or empty");
    return write_atomic(rep, path, write_roc, false);
}
