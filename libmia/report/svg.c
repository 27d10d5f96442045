/*
 * SVG plots written by libmia itself (no plotting library): the log-log ROC of one attack with
 * one curve per non-member set, and score histograms of members vs each non-member set.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report-impl.h"

#define W 640.0
#define H 480.0
#define ML 70.0 /* margins: left, right, top, bottom */
#define MR 170.0
#define MT 40.0
#define MB 60.0

static const char *const colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                     "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

static mia_status put_text_escaped(mia_afile *f, const char *s)
{
    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '&': MIA_TRY(mia__afile_write(f, "&amp;", 5)); break;
        case '<': MIA_TRY(mia__afile_write(f, "&lt;", 4)); break;
        case '>': MIA_TRY(mia__afile_write(f, "&gt;", 4)); break;
        case '"': MIA_TRY(mia__afile_write(f, "&quot;", 6)); break;
        case '\'': MIA_TRY(mia__afile_write(f, "&apos;", 6)); break;
        default:
            /* XML 1.0 forbids most control characters: drop them */
            if ((unsigned char)*p >= 0x20 || *p == '\t') MIA_TRY(mia__afile_write(f, p, 1));
        }
    }
    return MIA_OK;
}

static mia_status text(mia_afile *f, double x, double y, const char *anchor, const char *extra,
                       const char *s)
{
    MIA_TRY(mia__afile_printf(f, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"%s\" %s>", x, y, anchor,
                              extra));
    MIA_TRY(put_text_escaped(f, s));
    return mia__afile_printf(f, "</text>\n");
}

static mia_status header(mia_afile *f, const char *title)
{
    MIA_TRY(mia__afile_printf(f,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" "
        "viewBox=\"0 0 %g %g\" font-family=\"sans-serif\" font-size=\"12\">\n"
        "<rect x=\"0\" y=\"0\" width=\"%g\" height=\"%g\" fill=\"white\"/>\n"
        "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"black\"/>\n",
        W, H, W, H, W, H, ML, MT, W - ML - MR, H - MT - MB));
    return text(f, (ML + W - MR) / 2, MT - 15, "middle", "font-size=\"14\"", title);
}

/* Legend entry in row @p row, drawn in colour @p color (an index into colors). */
static mia_status legend(mia_afile *f, int row, int color, const char *label, const char *dash)
{
    double y = MT + 10 + 18 * row, x = W - MR + 12;
    MIA_TRY(mia__afile_printf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" "
                              "stroke=\"%s\" stroke-width=\"2\"%s/>\n", x, y, x + 22, y,
                              colors[color % 10], dash));
    return text(f, x + 28, y + 4, "start", "", label);
}

/* Log-log axes from 10^lo to 1. */
static double lx(double v, double lo)
{
    double t = (log10(v) - lo) / -lo;
    return ML + t * (W - ML - MR);
}
static double ly(double v, double lo)
{
    double t = (log10(v) - lo) / -lo;
    return H - MB - t * (H - MT - MB);
}

static int find_kind(const mia_report *rep, mia_attack_kind kind)
{
    for (int i = 0; i < rep->n_entries; i++)
        if (rep->entries[i].res->kind == kind) return i;
    return -1;
}

static mia_status roc_body(const mia_report *rep, mia_afile *f, mia_attack_kind kind)
{
    /* lower axis limit: one decade below the smallest resolvable FPR/TPR over all curves */
    int64_t nmax = 1;
    for (int e = 0; e < rep->n_entries; e++) {
        const mia_attack_result *r = rep->entries[e].res;
        if (r->kind != kind) continue;
        nmax = r->n_non > nmax ? r->n_non : nmax;
        nmax = r->n_mem > nmax ? r->n_mem : nmax;
    }
    double lo = floor(log10(1.0 / (double)nmax)) - 1.0;
    if (lo < -7.0) lo = -7.0;
    if (lo > -2.0) lo = -2.0;
    const double vmin = pow(10.0, lo);
    char title[160];
    snprintf(title, sizeof title, "%s: ROC (log-log)", mia_attack_kind_name(kind));
    MIA_TRY(header(f, title));
    for (int d = (int)lo; d <= 0; d++) {
        double v = pow(10.0, d), x = lx(v, lo), y = ly(v, lo);
        char lab[16];
        snprintf(lab, sizeof lab, "1e%d", d);
        MIA_TRY(mia__afile_printf(f, "<line x1=\"%.2f\" y1=\"%g\" x2=\"%.2f\" y2=\"%g\" "
                                  "stroke=\"#dddddd\"/>\n", x, MT, x, H - MB));
        MIA_TRY(mia__afile_printf(f, "<line x1=\"%g\" y1=\"%.2f\" x2=\"%g\" y2=\"%.2f\" "
                                  "stroke=\"#dddddd\"/>\n", ML, y, W - MR, y));
        MIA_TRY(text(f, x, H - MB + 16, "middle", "", lab));
        MIA_TRY(text(f, ML - 6, y + 4, "end", "", lab));
    }
    MIA_TRY(text(f, (ML + W - MR) / 2, H - 15, "middle", "", "False positive rate"));
    MIA_TRY(text(f, 18, (MT + H - MB) / 2, "middle",
                 "transform=\"rotate(-90 18 220)\"", "True positive rate"));
    /* chance line */
    MIA_TRY(mia__afile_printf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" "
                              "stroke=\"gray\" stroke-dasharray=\"4 4\"/>\n", lx(vmin, lo),
                              ly(vmin, lo), lx(1.0, lo), ly(1.0, lo)));
    int c = 0;
    for (int e = 0; e < rep->n_entries; e++) {
        const mia_attack_result *r = rep->entries[e].res;
        if (r->kind != kind) continue;
        MIA_TRY(mia__afile_printf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" "
                                  "points=\"", colors[c % 10]));
        double px = -1e9, py = -1e9;
        for (int64_t k = 0; k < r->roc_n; k++) {
            double fpr = (double)r->roc_fp[k] / (double)r->n_non;
            double tpr = (double)r->roc_tp[k] / (double)r->n_mem;
            double x = lx(fpr > vmin ? fpr : vmin, lo), y = ly(tpr > vmin ? tpr : vmin, lo);
            /* thin the polyline: skip points closer than 0.3 px to the last one drawn */
            if (k + 1 < r->roc_n && fabs(x - px) < 0.3 && fabs(y - py) < 0.3) continue;
            MIA_TRY(mia__afile_printf(f, "%.2f,%.2f ", x, y));
            px = x;
            py = y;
        }
        MIA_TRY(mia__afile_printf(f, "\"/>\n"));
        MIA_TRY(legend(f, c, c, rep->sets[rep->entries[e].set], ""));
        c++;
    }
    return mia__afile_printf(f, "</svg>\n");
}

#define BINS 50

static mia_status hist_curve(mia_afile *f, const float *s, int64_t n, double lo, double hi,
                             double ymax, const char *color, const char *dash)
{
    int64_t cnt[BINS] = {0};
    for (int64_t i = 0; i < n; i++) {
        int b = hi > lo ? (int)((s[i] - lo) / (hi - lo) * BINS) : 0;
        b = b < 0 ? 0 : (b >= BINS ? BINS - 1 : b);
        cnt[b]++;
    }
    MIA_TRY(mia__afile_printf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"%s "
                              "points=\"", color, dash));
    const double pw = W - ML - MR, ph = H - MT - MB;
    for (int b = 0; b < BINS; b++) {
        double frac = (double)cnt[b] / (double)n;
        double y = H - MB - frac / ymax * ph;
        MIA_TRY(mia__afile_printf(f, "%.2f,%.2f %.2f,%.2f ", ML + pw * b / BINS, y,
                                  ML + pw * (b + 1) / BINS, y));
    }
    return mia__afile_printf(f, "\"/>\n");
}

static double hist_peak(const float *s, int64_t n, double lo, double hi)
{
    int64_t cnt[BINS] = {0}, mx = 0;
    for (int64_t i = 0; i < n; i++) {
        int b = hi > lo ? (int)((s[i] - lo) / (hi - lo) * BINS) : 0;
        b = b < 0 ? 0 : (b >= BINS ? BINS - 1 : b);
        cnt[b]++;
    }
    for (int b = 0; b < BINS; b++) mx = cnt[b] > mx ? cnt[b] : mx;
    return (double)mx / (double)n;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The x range of the histograms: from the 1st percentile of every score drawn (members and
 * non-members pooled) to the maximum, so that a few extreme scores (LOSS of a wrong label:
 * log p_y ~ -700) do not squeeze everything else into one bin; lower scores fold into the
 * first bin. *folded tells whether any score lies below lo. */
static mia_status hist_range(const mia_report *rep, mia_attack_kind kind, double *lo, double *hi,
                             bool *folded)
{
    int64_t n = 0;
    for (int e = 0; e < rep->n_entries; e++) {
        const mia_attack_result *r = rep->entries[e].res;
        if (r->kind == kind) n += r->n_mem + r->n_non;
    }
    *lo = 0.0;
    *hi = 1.0;
    *folded = false;
    if (n == 0) return MIA_OK;
    float *v = mia__malloc((size_t)n * sizeof *v);
    if (!v) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory for the histogram range");
    int64_t k = 0;
    for (int e = 0; e < rep->n_entries; e++) {
        const mia_attack_result *r = rep->entries[e].res;
        if (r->kind != kind) continue;
        memcpy(v + k, r->score_mem, (size_t)r->n_mem * sizeof *v);
        k += r->n_mem;
        memcpy(v + k, r->score_non, (size_t)r->n_non * sizeof *v);
        k += r->n_non;
    }
    qsort(v, (size_t)n, sizeof *v, cmp_float);
    *hi = v[n - 1];
    *lo = v[(n - 1) / 100];
    if (!(*lo < *hi)) *lo = v[0];
    *folded = v[0] < *lo;
    mia__free(v);
    return MIA_OK;
}

static mia_status hist_body(const mia_report *rep, mia_afile *f, mia_attack_kind kind)
{
    double lo, hi, ymax = 0.0;
    bool folded;
    MIA_TRY(hist_range(rep, kind, &lo, &hi, &folded));
    for (int e = 0; e < rep->n_entries; e++) {
        const mia_attack_result *r = rep->entries[e].res;
        if (r->kind != kind) continue;
        ymax = fmax(ymax, hist_peak(r->score_mem, r->n_mem, lo, hi));
        ymax = fmax(ymax, hist_peak(r->score_non, r->n_non, lo, hi));
    }
    ymax = ymax > 0 ? ymax * 1.05 : 1.0;
    char title[160], buf[64];
    snprintf(title, sizeof title, "%s: score histograms", mia_attack_kind_name(kind));
    MIA_TRY(header(f, title));
    for (int t = 0; t <= 4; t++) {
        double v = lo + (hi - lo) * t / 4.0, x = ML + (W - ML - MR) * t / 4.0;
        snprintf(buf, sizeof buf, "%.4g", v);
        MIA_TRY(text(f, x, H - MB + 16, "middle", "", buf));
        double fy = ymax * t / 4.0, y = H - MB - (H - MT - MB) * t / 4.0;
        snprintf(buf, sizeof buf, "%.3g", fy);
        MIA_TRY(text(f, ML - 6, y + 4, "end", "", buf));
    }
    MIA_TRY(text(f, (ML + W - MR) / 2, H - 15, "middle", "",
                 folded ? "Attack score (the lowest 1% in the first bin)" : "Attack score"));
    MIA_TRY(text(f, 18, (MT + H - MB) / 2, "middle", "transform=\"rotate(-90 18 220)\"",
                 "Fraction of samples"));
    int c = 0;
    for (int e = 0; e < rep->n_entries; e++) {
        const mia_attack_result *r = rep->entries[e].res;
        if (r->kind != kind) continue;
        if (c == 0) { /* members: identical across sets for a fixed attack; drawn once */
            MIA_TRY(hist_curve(f, r->score_mem, r->n_mem, lo, hi, ymax, "black", ""));
            MIA_TRY(mia__afile_printf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" "
                                      "stroke=\"black\" stroke-width=\"2\"/>\n", W - MR + 12,
                                      MT + 10, W - MR + 34, MT + 10));
            MIA_TRY(text(f, W - MR + 40, MT + 14, "start", "", "members"));
        }
        MIA_TRY(hist_curve(f, r->score_non, r->n_non, lo, hi, ymax, colors[c % 10], ""));
        MIA_TRY(legend(f, c + 1, c, rep->sets[rep->entries[e].set], ""));
        c++;
    }
    return mia__afile_printf(f, "</svg>\n");
}

static mia_status write_svg(const mia_report *rep, const char *path, mia_attack_kind kind,
                            mia_status (*body)(const mia_report *, mia_afile *, mia_attack_kind))
{
    MIA_CHECK_ARG(rep != NULL, "rep: NULL");
    MIA_CHECK_ARG(path != NULL && path[0], "path: NULL or empty");
    if (find_kind(rep, kind) < 0)
        return MIA_ERROR(MIA_ERR_INVALID, "kind: the report has no %s result",
                         mia_attack_kind_name(kind));
    mia_afile *f = NULL;
    MIA_TRY(mia__afile_open(&f, path));
    mia_status s = body(rep, f, kind);
    if (s != MIA_OK) {
        mia__afile_abort(f);
        return s;
    }
    return mia__afile_commit(f);
}

mia_status mia_report_write_roc_svg(const mia_report *rep, mia_attack_kind kind, const char *path)
{
    mia__error_begin();
    return write_svg(rep, path, kind, roc_body);
}

mia_status mia_report_write_hist_svg(const mia_report *rep, mia_attack_kind kind,
                                     const char *path)
{
    mia__error_begin();
    return write_svg(rep, path, kind, hist_body);
}
