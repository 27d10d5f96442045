/*
 * JSON results with provenance (reliability bar B17), through jansson: doubles with 17
 * significant digits (round-trippable), NaN/Inf as null plus the field name in "null_fields".
 */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>

#include "report/report-impl.h"

/* json_object_set_new that remembers allocation failure instead of returning it. */
static void set(json_t *o, const char *k, json_t *v, bool *fail)
{
    if (!v || !o || json_object_set_new(o, k, v) != 0) *fail = true;
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static void set_real(json_t *o, json_t *nulls, const char *k, double v, bool *fail)
{
    if (isfinite(v)) {
        set(o, k, json_real(v), fail);
        return;
    }
    set(o, k, json_null(), fail);
    if (!nulls || json_array_append_new(nulls, json_string(k)) != 0) *fail = true;
}

static json_t *hashes(const mia__report_hash *h, size_t n, bool *fail)
{
    json_t *a = json_array();
    if (!a) {
        *fail = true;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        set(o, "name", str_or_null(h[i].name), fail);
        set(o, "sha256", str_or_null(h[i].sha256), fail);
        if (!o || json_array_append_new(a, o) != 0) *fail = true;
    }
    return a;
}

static json_t *entry_json(const mia_report *rep, int e, bool *any_null, bool *fail)
{
    const mia_attack_result *r = rep->entries[e].res;
    const mia_attack_metrics *m = &r->m;
    json_t *o = json_object(), *c = json_object(), *mt = json_object(), *nulls = json_array();
    json_t *tp = json_array();
    set(o, "non_member_set", json_string(rep->sets[rep->entries[e].set]), fail);
    set(o, "attack", json_string(mia_attack_kind_name(r->kind)), fail);
    set(o, "attack_kind", json_integer((json_int_t)r->kind), fail);
    set(c, "n_members", json_integer((json_int_t)m->n_members), fail);
    set(c, "n_non_members", json_integer((json_int_t)m->n_non_members), fail);
    set(c, "tp", json_integer((json_int_t)m->tp), fail);
    set(c, "fp", json_integer((json_int_t)m->fp), fail);
    set(c, "fn", json_integer((json_int_t)m->fn), fail);
    set(c, "tn", json_integer((json_int_t)m->tn), fail);
    set(c, "roc_points", json_integer((json_int_t)r->roc_n), fail);
    set(o, "counts", c, fail);
    const struct { const char *k; double v; } f[] = {
        {"precision", m->precision}, {"recall", m->recall}, {"fpr", m->fpr},
        {"accuracy", m->accuracy}, {"balanced_accuracy", m->balanced_accuracy},
        {"auroc", m->auroc}, {"aupr", m->aupr}, {"fpr_at_95_tpr", m->fpr_at_95_tpr},
        {"tp_mmps", m->tp_mmps}, {"fp_mmps", m->fp_mmps}, {"fn_mmps", m->fn_mmps},
        {"tn_mmps", m->tn_mmps}};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) set_real(mt, nulls, f[i].k, f[i].v, fail);
    set(o, "metrics", mt, fail);
    for (int t = 0; t < MIA_N_TPR_AT_FPR; t++) {
        const mia_tpr_at_fpr *q = &m->tpr_at_fpr[t];
        json_t *p = json_object();
        set(p, "target_fpr", json_real(q->target_fpr), fail);
        set(p, "resolvable", json_boolean(q->resolvable), fail);
        set(p, "n_members", json_integer((json_int_t)q->n_members), fail);
        set(p, "n_non_members", json_integer((json_int_t)q->n_non_members), fail);
        if (q->resolvable) {
            set(p, "tp", json_integer((json_int_t)q->tp), fail);
            set_real(p, NULL, "tpr", q->tpr, fail);
            set_real(p, NULL, "fpr", q->fpr, fail);
            set_real(p, NULL, "ci_low", q->ci_low, fail);
            set_real(p, NULL, "ci_high", q->ci_high, fail);
        } else {
            /* not resolvable: never a number (B15) */
            set(p, "tp", json_null(), fail);
            set(p, "tpr", json_null(), fail);
            set(p, "fpr", json_null(), fail);
            set(p, "ci_low", json_null(), fail);
            set(p, "ci_high", json_null(), fail);
        }
        if (!p || json_array_append_new(tp, p) != 0) *fail = true;
    }
    set(o, "tpr_at_fpr", tp, fail);
    if (nulls && json_array_size(nulls) > 0) *any_null = true;
    set(o, "null_fields", nulls, fail);
    return o;
}

mia_status mia_report_write_json(const mia_report *rep, const char *path)
{
    mia__error_begin();
    MIA_CHECK_ARG(rep != NULL, "rep: NULL");
    MIA_CHECK_ARG(path != NULL && path[0], "path: NULL or empty");
    bool fail = false, any_null = false;
    json_t *root = json_object(), *prov = json_object(), *res = json_array();
    set(root, "format", json_string("libmia-attack-results"), &fail);
    set(root, "format_version", json_integer(1), &fail);
    set(root, "libmia_version", json_string(mia_version_string()), &fail);
    if (rep->seed <= (uint64_t)INT64_MAX) set(prov, "seed", json_integer((json_int_t)rep->seed), &fail);
    else {
        char buf[32];
        snprintf(buf, sizeof buf, "%" PRIu64, rep->seed);
        set(prov, "seed", json_string(buf), &fail);
    }
    set(prov, "config_hash", str_or_null(rep->config_hash), &fail);
    set(prov, "keep_mask_hash", str_or_null(rep->keep_mask_hash), &fail);
    set(prov, "datasets", hashes(rep->datasets, rep->n_datasets, &fail), &fail);
    set(prov, "models", hashes(rep->models, rep->n_models, &fail), &fail);
    set(prov, "cross_source", json_boolean(rep->cross_source), &fail);
    set(root, "provenance", prov, &fail);
    for (int e = 0; e < rep->n_entries && !fail; e++) {
        json_t *o = entry_json(rep, e, &any_null, &fail);
        if (!o || json_array_append_new(res, o) != 0) fail = true;
    }
    set(root, "results", res, &fail);
    set(root, "has_null", json_boolean(any_null), &fail);
    char *text = fail ? NULL : json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    json_decref(root);
    if (!text) return MIA_ERROR(MIA_ERR_NOMEM, "%s: out of memory building the JSON", path);
    mia_afile *f = NULL;
    mia_status s = mia__afile_open(&f, path);
    if (s == MIA_OK) s = mia__afile_write(f, text, strlen(text));
    if (s == MIA_OK) s = mia__afile_write(f, "\n", 1);
    if (s == MIA_OK) s = mia__afile_commit(f);
    else mia__afile_abort(f);
    free(text); /* jansson allocates with malloc */
    return s;
}

void mia_report_sha256_hex(const void *data, size_t n, char out[65])
{
    uint8_t d[32];
    mia__sha256(data, n, d);
    mia__sha256_hex(d, out);
}

mia_status mia_report_file_sha256(const char *path, char out[65])
{
    mia__error_begin();
    if (out) out[0] = '\0';
    MIA_CHECK_ARG(path != NULL, "path: NULL");
    MIA_CHECK_ARG(out != NULL, "out: NULL");
    uint8_t d[32];
    MIA_TRY(mia__sha256_file(path, d));
    mia__sha256_hex(d, out);
    return MIA_OK;
}
