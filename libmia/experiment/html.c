/*
 * report.html: one self-contained page (inline CSS, inline SVG, sample images as base64 PNG
 * data URIs; no scripts, no external resources).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "experiment-impl.h"
#include "../io/io.h"

static const char *const colors[] = {"#4c72b0", "#dd8452", "#55a868", "#c44e52"};

static const char *const css =
    "body{font-family:sans-serif;margin:2em auto;max-width:1200px;color:#222}"
    "h1{border-bottom:2px solid #4c72b0}h2{margin-top:2em;border-bottom:1px solid #ccc}"
    "table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #bbb;padding:3px 8px;"
    "text-align:right;font-size:13px}th{background:#eef}td.l,th.l{text-align:left}"
    ".hi{background:#f6c6c6}.samples img{width:56px;height:56px;image-rendering:pixelated;"
    "margin:2px;border:1px solid #999}.plots svg{max-width:560px;height:auto;margin:4px}"
    ".note{color:#666;font-size:13px}details{margin:0.5em 0}code{background:#f4f4f4}";

static void fmt(mia__sbuf *b, double v)
{
    if (isfinite(v)) mia__sb_printf(b, "%.4f", v);
    else mia__sb_puts(b, "&ndash;");
}

/* Inline an SVG document: drop anything before "<svg". */
static void inline_svg(mia__sbuf *b, const char *svg)
{
    if (!svg) return;
    const char *p = strstr(svg, "<svg");
    mia__sb_puts(b, p ? p : svg);
}

static void reliability_svg(mia__sbuf *b, const mia__exp_variant_result *vr, const char *title)
{
    const int W = 240, H = 240, M = 30;
    mia__sb_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                      "role=\"img\"><title>Reliability diagram: ", W + M + 10, H + M + 24);
    mia__sb_html(b, title);
    mia__sb_printf(b, "</title><rect x=\"%d\" y=\"10\" width=\"%d\" height=\"%d\" fill=\"none\" "
                      "stroke=\"#999\"/>", M, W, H);
    mia__sb_printf(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"10\" stroke=\"#999\" "
                      "stroke-dasharray=\"4\"/>", M, H + 10, M + W);
    for (int i = 0; i < 15; i++) {
        if (!vr->bin_n[i]) continue;
        double x0 = M + W * i / 15.0, bw = W / 15.0;
        double ha = H * vr->bin_acc[i], hc = H * vr->bin_conf[i];
        mia__sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                          "fill=\"#4c72b0\" opacity=\"0.8\"/>", x0, 10 + H - ha, bw - 1, ha);
        if (hc > ha)
            mia__sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                              "fill=\"#c44e52\" opacity=\"0.35\"/>", x0, 10 + H - hc, bw - 1,
                           hc - ha);
    }
    mia__sb_printf(b, "<text x=\"%d\" y=\"%d\" font-size=\"11\">confidence (15 bins); blue: "
                      "accuracy, red: gap</text>", M, H + 26);
    mia__sb_printf(b, "<text x=\"4\" y=\"16\" font-size=\"11\">1</text><text x=\"4\" y=\"%d\" "
                      "font-size=\"11\">0</text></svg>", H + 10);
}

static void fpr_bars(mia__sbuf *b, const mia_experiment_result *r,
                     const mia__exp_variant_result *vr, const char *title)
{
    const int na = r->n_attacks, gw = na * 12 + 16, H = 200, top = 24, left = 34;
    const int bottom = 110;
    int W = left + r->n_sets * gw + 10;
    if (W < left + na * 130) W = left + na * 130; /* room for the legend (130 px per attack) */
    mia__sb_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                      "role=\"img\"><title>FPR per non-member set: ", W, top + H + bottom);
    mia__sb_html(b, title);
    mia__sb_puts(b, "</title>");
    for (int t = 0; t <= 4; t++) {
        double y = top + H - H * t / 4.0;
        mia__sb_printf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                          "<text x=\"2\" y=\"%.1f\" font-size=\"10\">%.2f</text>", left, W - 10,
                       y, y, y + 3, t / 4.0);
    }
    for (int s = 0; s < r->n_sets; s++) {
        int x0 = left + s * gw + 8;
        for (int a = 0; a < na; a++) {
            double v = vr->fpr[s][a];
            if (!isfinite(v)) continue;
            double h = H * v;
            mia__sb_printf(b, "<rect x=\"%d\" y=\"%.1f\" width=\"11\" height=\"%.1f\" "
                              "fill=\"%s\"><title>", x0 + a * 12, top + H - h, h,
                           colors[r->attacks[a] % 4]);
            mia__sb_html(b, r->set_names[s]);
            mia__sb_printf(b, ", %s: FPR %.4f</title></rect>", mia_attack_kind_name(r->attacks[a]),
                           v);
        }
        mia__sb_printf(b, "<text transform=\"translate(%d,%d) rotate(45)\" font-size=\"11\">",
                       x0 + 4, top + H + 12);
        mia__sb_html(b, r->set_names[s]);
        mia__sb_puts(b, "</text>");
    }
    for (int a = 0; a < na; a++)
        mia__sb_printf(b, "<rect x=\"%d\" y=\"4\" width=\"10\" height=\"10\" fill=\"%s\"/>"
                          "<text x=\"%d\" y=\"13\" font-size=\"11\">%s</text>", left + a * 130,
                       colors[r->attacks[a] % 4], left + a * 130 + 14,
                       mia_attack_kind_name(r->attacks[a]));
    mia__sb_puts(b, "</svg>");
}

mia_status mia__exp_write_html(const mia_experiment_result *r, const mia_experiment_config *c,
                               const mia__exp_set *sets, int n_sets, const char *path)
{
    mia__sbuf b = {0};
    mia__sb_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                     "<title>libmia experiment: ");
    mia__sb_html(&b, c->name);
    mia__sb_printf(&b, "</title><style>%s</style></head><body>\n<h1>Membership inference "
                       "experiment: ", css);
    mia__sb_html(&b, c->name);
    mia__sb_puts(&b, "</h1>\n<p class=\"note\">Can the attacks be trusted? Each attack is fitted "
                     "on the shadow model's members and non-members, then applied to the target "
                     "model's members against every non-member set. A high false-positive rate "
                     "(FPR) on a non-member set means the attack calls those images members.</p>");

    /* settings and provenance */
    mia__sb_puts(&b, "<h2 id=\"settings\">Settings and provenance</h2><table>");
#define ROW(k, ...) do { mia__sb_puts(&b, "<tr><th class=\"l\">" k "</th><td class=\"l\">"); \
                         mia__sb_printf(&b, __VA_ARGS__); mia__sb_puts(&b, "</td></tr>"); } while (0)
    ROW("libmia version", "%s", mia_version_string());
    ROW("backend", "%s", r->backend);
    ROW("config SHA-256", "<code>%s</code>", c->hash);
    ROW("training data SHA-256", "<code>%s</code>", r->data_hash);
    mia__sb_puts(&b, "<tr><th class=\"l\">data</th><td class=\"l\">");
    mia__sb_html(&b, c->train_spec);
    if (c->test_spec) {
        mia__sb_puts(&b, " / ");
        mia__sb_html(&b, c->test_spec);
    } else {
        mia__sb_printf(&b, " (train: %g of a seeded permutation, test: the rest)",
                       c->train_fraction);
    }
    mia__sb_puts(&b, "</td></tr>");
    ROW("model", "%s, input %lldx%lldx%lld, %d classes", c->arch, (long long)c->channels,
        (long long)c->height, (long long)c->width, c->n_classes);
    ROW("training", "Adam, lr %g, batch %lld, %lld epochs, seed %llu", c->lr,
        (long long)c->batch_size, (long long)c->epochs, (unsigned long long)c->seed);
    ROW("splits", "target/shadow train %lld each, test %lld each, members/non-members %lld "
                  "(split seed %llu, member seed %llu)", (long long)c->train_size,
        (long long)c->test_size, (long long)c->attack_size, (unsigned long long)c->split_seed,
        (unsigned long long)c->member_seed);
    ROW("models from cache", "%d", r->models_cached);
    ROW("run time", "%.0f s", r->seconds_total);
#undef ROW
    mia__sb_puts(&b, "</table><p class=\"note\">Every number of this page is in "
                     "<code>results.json</code> and in the per-variant CSV/JSON files.</p>\n");

    /* accuracy and ECE */
    mia__sb_puts(&b, "<h2 id=\"calibration\">Accuracy and calibration</h2><table><tr>"
                     "<th class=\"l\">variant</th><th>train acc. (members)</th><th>test acc."
                     "</th><th>ECE</th><th>OE</th><th>shadow test acc.</th><th>shadow ECE</th>"
                     "<th class=\"l\">CSV</th></tr>");
    for (int v = 0; v < r->n_variants; v++) {
        const mia__exp_variant_result *vr = &r->vr[v];
        mia__sb_puts(&b, "<tr><td class=\"l\">");
        mia__sb_html(&b, r->variant_names[v]);
        mia__sb_puts(&b, "</td><td>");
        fmt(&b, vr->acc_train);
        mia__sb_puts(&b, "</td><td>");
        fmt(&b, vr->acc_test);
        mia__sb_puts(&b, "</td><td>");
        fmt(&b, vr->ece);
        mia__sb_puts(&b, "</td><td>");
        fmt(&b, vr->oe);
        mia__sb_puts(&b, "</td><td>");
        fmt(&b, vr->acc_test_shadow);
        mia__sb_puts(&b, "</td><td>");
        fmt(&b, vr->ece_shadow);
        mia__sb_puts(&b, "</td><td class=\"l\"><code>");
        mia__sb_html(&b, vr->csv_name);
        mia__sb_puts(&b, "</code></td></tr>");
    }
    mia__sb_puts(&b, "</table><div class=\"plots\">");
    for (int v = 0; v < r->n_variants; v++) {
        mia__sb_puts(&b, "<figure style=\"display:inline-block\">");
        reliability_svg(&b, &r->vr[v], r->variant_names[v]);
        mia__sb_puts(&b, "<figcaption>");
        mia__sb_html(&b, r->variant_names[v]);
        mia__sb_puts(&b, "</figcaption></figure>");
    }
    mia__sb_puts(&b, "</div>\n");

    /* FPR per variant */
    mia__sb_puts(&b, "<h2 id=\"fpr\">False-positive rate per non-member set</h2>");
    for (int v = 0; v < r->n_variants; v++) {
        const mia__exp_variant_result *vr = &r->vr[v];
        mia__sb_puts(&b, "<h3>");
        mia__sb_html(&b, r->variant_names[v]);
        mia__sb_puts(&b, "</h3><table class=\"fpr\"><tr><th class=\"l\">non-member set</th>");
        for (int a = 0; a < r->n_attacks; a++)
            mia__sb_printf(&b, "<th>%s FPR</th>", mia_attack_kind_name(r->attacks[a]));
        mia__sb_puts(&b, "</tr>");
        for (int s = 0; s < r->n_sets; s++) {
            mia__sb_puts(&b, "<tr><td class=\"l\">");
            mia__sb_html(&b, r->set_names[s]);
            mia__sb_puts(&b, "</td>");
            for (int a = 0; a < r->n_attacks; a++) {
                double f = vr->fpr[s][a];
                mia__sb_printf(&b, "<td%s>", isfinite(f) && f >= 0.5 ? " class=\"hi\"" : "");
                fmt(&b, f);
                mia__sb_puts(&b, "</td>");
            }
            mia__sb_puts(&b, "</tr>");
        }
        mia__sb_puts(&b, "</table>");
        fpr_bars(&b, r, vr, r->variant_names[v]);
    }

    /* full metric tables */
    mia__sb_puts(&b, "<h2 id=\"metrics\">All metrics</h2>");
    static const char *const mh[] = {"precision", "recall", "AUROC", "AUPR", "FPR@95%TPR", "FPR",
                                     "TP MMPS", "FP MMPS", "FN MMPS", "TN MMPS",
                                     "TPR@1%FPR"};
    for (int v = 0; v < r->n_variants; v++) {
        const mia__exp_variant_result *vr = &r->vr[v];
        mia__sb_puts(&b, "<details open><summary>");
        mia__sb_html(&b, r->variant_names[v]);
        mia__sb_puts(&b, "</summary><table class=\"metrics\"><tr><th class=\"l\">set</th>"
                         "<th class=\"l\">attack</th>");
        for (size_t k = 0; k < sizeof mh / sizeof mh[0]; k++)
            mia__sb_printf(&b, "<th>%s</th>", mh[k]);
        mia__sb_puts(&b, "</tr>");
        for (int s = 0; s < r->n_sets; s++)
            for (int a = 0; a < r->n_attacks; a++) {
                const mia_attack_metrics *m = &vr->metrics[s][a];
                if (m->n_members == 0) continue;
                mia__sb_puts(&b, "<tr><td class=\"l\">");
                mia__sb_html(&b, r->set_names[s]);
                mia__sb_printf(&b, "</td><td class=\"l\">%s</td>",
                               mia_attack_kind_name(r->attacks[a]));
                double vals[] = {m->precision, m->recall, m->auroc, m->aupr, m->fpr_at_95_tpr,
                                 m->fpr, m->tp_mmps, m->fp_mmps, m->fn_mmps, m->tn_mmps};
                for (size_t k = 0; k < sizeof vals / sizeof vals[0]; k++) {
                    mia__sb_puts(&b, "<td>");
                    fmt(&b, vals[k]);
                    mia__sb_puts(&b, "</td>");
                }
                const mia_tpr_at_fpr *t = &m->tpr_at_fpr[1];
                if (t->resolvable)
                    mia__sb_printf(&b, "<td>%.4f [%.4f, %.4f]</td></tr>", t->tpr, t->ci_low,
                                   t->ci_high);
                else
                    mia__sb_puts(&b, "<td>not resolvable</td></tr>");
            }
        mia__sb_puts(&b, "</table></details>");
    }

    /* ROC and histograms */
    mia__sb_puts(&b, "<h2 id=\"plots\">ROC curves and score histograms</h2>");
    for (int v = 0; v < r->n_variants; v++) {
        mia__sb_puts(&b, "<h3>");
        mia__sb_html(&b, r->variant_names[v]);
        mia__sb_puts(&b, "</h3><div class=\"plots\">");
        for (int a = 0; a < r->n_attacks; a++) {
            inline_svg(&b, r->vr[v].svg_roc[a]);
            inline_svg(&b, r->vr[v].svg_hist[a]);
        }
        mia__sb_puts(&b, "</div>");
    }

    /* samples */
    mia__sb_puts(&b, "<h2 id=\"samples\">Sample images of every non-member set</h2>"
                     "<p class=\"note\">Shown as pixels in [0, 255]. \"Scaled\" feeds the "
                     "normalised image x 255 to the model and \"No Normalization\" the [0, 1] "
                     "image without normalisation: they look like the originals.</p><table "
                     "class=\"samples\">");
    for (int s = 0; s < n_sets; s++) {
        mia__sb_puts(&b, "<tr><td class=\"l\">");
        mia__sb_html(&b, sets[s].name);
        mia__sb_printf(&b, "<br><span class=\"note\">%lld images</span></td><td class=\"l\">",
                       (long long)r->set_sizes[s]);
        if (sets[s].note) mia__sb_html(&b, sets[s].note);
        for (int i = 0; i < sets[s].n_samples; i++) {
            mia__sb_puts(&b, "<img alt=\"");
            mia__sb_html(&b, sets[s].name);
            mia__sb_puts(&b, " sample\" src=\"data:image/png;base64,");
            mia__sb_base64(&b, sets[s].samples_png[i], sets[s].samples_len[i]);
            mia__sb_puts(&b, "\">");
        }
        mia__sb_puts(&b, "</td></tr>");
    }
    mia__sb_puts(&b, "</table>\n<p class=\"note\">Generated by libmia mia-experiment.</p>"
                     "</body></html>\n");
    if (b.failed) {
        mia__free(b.s);
        return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    }
    mia_status st = mia__write_file_atomic(path, b.s, b.len);
    mia__free(b.s);
    return st;
}
