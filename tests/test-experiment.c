/* mia-experiment: config validation (messages name the key), canonical config hash, paper file
 * tags, the plan with missing data (manifest names and expected checksums), and a tiny config
 * run end to end on synthetic 8x8 data twice: the second run reuses every cached model and
 * writes byte-identical CSV and JSON (results.json except its "timing" object). */
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <mia/attack.h>
#include <mia/dataset.h>
#include <mia/experiment.h>
#include <mia/scores.h>
#include <mia/status.h>

static char g_dir[64];

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) { free(b); b = NULL; }
    fclose(f);
    if (b) b[n] = '\0';
    if (len) *len = (size_t)n;
    return b;
}

static void write_file(const char *path, const void *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(d, 1, n, f), n);
    fclose(f);
}

/* IDX files of n images 1x8x8: class k (0..3) is a bright horizontal bar at row 2k (+noise). */
static void write_idx(const char *stem, int n, unsigned seed)
{
    char p[256];
    size_t sz = 16 + (size_t)n * 64;
    unsigned char *img = calloc(1, sz), *lab = calloc(1, 8 + (size_t)n);
    img[2] = 0x08; img[3] = 3;
    img[4] = (unsigned char)(n >> 24); img[5] = (unsigned char)(n >> 16);
    img[6] = (unsigned char)(n >> 8); img[7] = (unsigned char)n;
    img[11] = 8; img[15] = 8;
    lab[2] = 0x08; lab[3] = 1;
    memcpy(lab + 4, img + 4, 4);
    for (int i = 0; i < n; i++) {
        int k = i % 4;
        lab[8 + i] = (unsigned char)k;
        for (int q = 0; q < 64; q++) {
            seed = seed * 1103515245u + 12345u;
            int v = (int)((seed >> 16) % 60);
            if (q / 8 == 2 * k || q / 8 == 2 * k + 1) v += 150;
            img[16 + (size_t)i * 64 + (size_t)q] = (unsigned char)v;
        }
    }
    snprintf(p, sizeof p, "%s/%s-images.idx", g_dir, stem);
    write_file(p, img, sz);
    snprintf(p, sizeof p, "%s/%s-labels.idx", g_dir, stem);
    write_file(p, lab, 8 + (size_t)n);
    free(img);
    free(lab);
}

static const char *tiny_config =
    "{\"name\": \"tiny\", \"dataset\": {\"train\": \"idx:{data}/train-images.idx,"
    "{data}/train-labels.idx\", \"test\": \"idx:{data}/test-images.idx,{data}/test-labels.idx\","
    " \"channels\": 1, \"height\": 8, \"width\": 8, \"classes\": 4, \"mean\": [0.3],"
    " \"std\": [0.3]},"
    " \"splits\": {\"train_size\": 120, \"test_size\": 60, \"attack_size\": 40},"
    " \"model\": {\"arch\": \"salem_cnn\"}, \"training\": {\"epochs\": 2, \"batch_size\": 32},"
    " \"variants\": [{\"kind\": \"base\"}, {\"kind\": \"label_smoothing\", \"epsilon\": 0.0083},"
    " {\"kind\": \"weight_decay\", \"weight_decay\": 0.0003}, {\"kind\": \"llla\", "
    "\"samples\": 10}, {\"kind\": \"temperature\", \"T\": 10}],"
    " \"non_members\": [{\"name\": \"Original\", \"kind\": \"test\"},"
    " {\"name\": \"Permuted\", \"kind\": \"permuted\"}, {\"name\": \"Scaled\", \"kind\": \"scaled\"},"
    " {\"name\": \"No Normalization\", \"kind\": \"unnormalized\"},"
    " {\"name\": \"Uniform Noise\", \"kind\": \"noise_uniform\"},"
    " {\"name\": \"Gaussian Noise\", \"kind\": \"noise_gaussian\"},"
    " {\"name\": \"Fakes\", \"kind\": \"fakes\"}],"
    " \"fakes\": {\"gan_steps\": 4},"
    " \"attacks\": [\"threshold\", \"salem\", \"entropy\", \"loss\"], \"salem_k\": 3}";

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/mia-test-experiment-XXXXXX");
    if (!mkdtemp(g_dir)) return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void expect_bad(const char *json, const char *key_substring)
{
    mia_experiment_config *c = (mia_experiment_config *)0x1;
    assert_int_equal(mia_experiment_config_parse(&c, json, NULL), MIA_ERR_INVALID);
    assert_null(c);
    if (!strstr(mia_last_error(), key_substring))
        fail_msg("error '%s' does not name '%s'", mia_last_error(), key_substring);
}

/* Replace the first occurrence of a in tiny_config by b. */
static char *edit(const char *a, const char *b)
{
    const char *p = strstr(tiny_config, a);
    assert_non_null(p);
    size_t n = strlen(tiny_config) - strlen(a) + strlen(b) + 1;
    char *s = malloc(n);
    snprintf(s, n, "%.*s%s%s", (int)(p - tiny_config), tiny_config, b, p + strlen(a));
    return s;
}

static void test_experiment__config_errors_name_the_key(void **state)
{
    (void)state;
    char *s;
    s = edit("\"epochs\": 2", "\"epochs\": \"two\"");
    expect_bad(s, "training.epochs");
    free(s);
    s = edit("\"epochs\": 2", "\"epoch\": 2");
    expect_bad(s, "training.epoch");
    free(s);
    s = edit("\"arch\": \"salem_cnn\"", "\"arch\": \"vgg\"");
    expect_bad(s, "model.arch");
    free(s);
    s = edit("\"kind\": \"permuted\"", "\"kind\": \"rotated\"");
    expect_bad(s, "non_members[1].kind");
    free(s);
    s = edit("\"attack_size\": 40", "\"attack_size\": 400");
    expect_bad(s, "splits.attack_size");
    free(s);
    s = edit("\"mean\": [0.3]", "\"mean\": [0.3, 0.2]");
    expect_bad(s, "dataset.mean");
    free(s);
    s = edit("{\"kind\": \"base\"}, ", "");
    expect_bad(s, "variants[0].kind");
    free(s);
    s = edit("\"salem_k\": 3", "\"salem_k\": 5");
    expect_bad(s, "salem_k");
    free(s);
    s = edit("\"test\": \"idx:", "\"all\": \"idx:");
    expect_bad(s, "dataset.all"); /* all with train */
    free(s);
    s = edit("\"dataset\": {", "\"dataset\": {\"train_fraction\": 0.5, ");
    expect_bad(s, "dataset.train_fraction"); /* needs all */
    free(s);
    expect_bad("{\"name\": \"x\"}", "dataset");
    mia_experiment_config *c = (mia_experiment_config *)0x1;
    assert_int_equal(mia_experiment_config_parse(&c, "{\"name\": ", NULL), MIA_ERR_FORMAT);
    assert_null(c);
    assert_non_null(strstr(mia_last_error(), "line 1"));
    assert_int_equal(mia_experiment_config_load(&c, "/nonexistent/x.json"), MIA_ERR_IO);
    assert_null(c);
    assert_non_null(strstr(mia_last_error(), "/nonexistent/x.json"));
}

static void test_experiment__config_hash_is_canonical(void **state)
{
    (void)state;
    mia_experiment_config *a = NULL, *b = NULL;
    assert_int_equal(mia_experiment_config_parse(&a, tiny_config, NULL), MIA_OK);
    /* Same content, other key order and spacing. */
    char *s = edit("{\"name\": \"tiny\", ", "{  \"salem_k\" :3,\n \"name\":\"tiny\",");
    char *t = malloc(strlen(s) + 1);
    strcpy(t, s);
    char *k = strstr(t, ", \"salem_k\": 3}");
    assert_non_null(k);
    strcpy(k, "}");
    assert_int_equal(mia_experiment_config_parse(&b, t, NULL), MIA_OK);
    char ha[65], hb[65];
    mia_experiment_config_hash_hex(a, ha);
    mia_experiment_config_hash_hex(b, hb);
    assert_int_equal(strlen(ha), 64);
    assert_string_equal(ha, hb);
    assert_string_equal(mia_experiment_config_name(a), "tiny");
    assert_string_equal(mia_experiment_config_output_dir(a), "runs/tiny");
    mia_experiment_config_free(b);
    b = NULL;
    char *u = edit("\"epochs\": 2", "\"epochs\": 3");
    assert_int_equal(mia_experiment_config_parse(&b, u, NULL), MIA_OK);
    mia_experiment_config_hash_hex(b, hb);
    assert_string_not_equal(ha, hb);
    mia_experiment_config_free(a);
    mia_experiment_config_free(b);
    free(s);
    free(t);
    free(u);
}

static void test_experiment__plan_lists_missing_files_with_checksums(void **state)
{
    (void)state;
    const char *src = getenv("MIA_SOURCE_DIR");
    if (!src) skip();
    char path[512];
    snprintf(path, sizeof path, "%s/configs/cifar10-resnet18.json", src);
    mia_experiment_config *c = NULL;
    assert_int_equal(mia_experiment_config_load(&c, path), MIA_OK);
    mia_experiment_opts o;
    mia_experiment_opts_init(&o);
    o.data_dir = g_dir; /* empty: every file is missing */
    char *text = NULL;
    int64_t missing = -1;
    assert_int_equal(mia_experiment_plan(&text, &missing, c, &o), MIA_OK);
    assert_true(missing >= 1);
    /* The manifest's expected MD5 of the CIFAR-10 archive (data-manifests/cifar10.json, as
     * published on the CIFAR page). */
    assert_non_null(strstr(text, "cifar-10-binary.tar.gz"));
    assert_non_null(strstr(text, "c32a1d4ab5d03f1284b67883e8d87530"));
    assert_non_null(strstr(text, "MISSING"));
    assert_non_null(strstr(text, "manifest cifar10"));
    assert_non_null(strstr(text, "Estimated time"));
    mia_experiment_free_string(text);
    bool ok = true;
    assert_int_equal(mia_experiment_verify_data(&text, &ok, c, &o), MIA_OK);
    assert_false(ok);
    mia_experiment_free_string(text);
    /* A run refuses to start and names the file. */
    mia_experiment_result *r = (mia_experiment_result *)0x1;
    char out[128];
    snprintf(out, sizeof out, "%s/run-missing", g_dir);
    o.output_dir = out;
    assert_int_equal(mia_experiment_run(&r, c, &o), MIA_ERR_IO);
    assert_null(r);
    assert_non_null(strstr(mia_last_error(), "cifar-10-binary.tar.gz"));
    mia_experiment_config_free(c);
}

/* Run a command, return its stdout (caller frees) and exit status. */
static char *run_capture(const char *cmd, int *status)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t len = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 1024) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    buf[len] = '\0';
    *status = pclose(p);
    return buf;
}

/* Text of the plan between the line "  manifest NAME (" and the next "  manifest " line. */
static char *manifest_section(const char *text, const char *name)
{
    char head[160];
    snprintf(head, sizeof head, "\n  manifest %s (", name);
    const char *a = strstr(text, head);
    if (!a) fail_msg("dry run does not name manifest %s", name);
    const char *e = strstr(a + 1, "\n  manifest ");
    const char *e2 = strstr(a + 1, "\n  image folder ");
    if (!e || (e2 && e2 < e)) e = e2;
    size_t n = e ? (size_t)(e - a) : strlen(a);
    char *s = malloc(n + 1);
    memcpy(s, a, n);
    s[n] = '\0';
    return s;
}

/* `mia-experiment run CONFIG --dry-run --data-dir EMPTY` for each of the paper's configs: exit
 * 0, the plan, and exactly the data files the config needs, each MISSING, each under its
 * manifest's name with the manifest's expected checksums (read here from data-manifests/ with
 * jansson), plus the manifest-less image folders (the paper's fakes). */
static void test_experiment__dry_run_of_paper_configs_lists_every_missing_file(void **state)
{
    (void)state;
    const char *src = getenv("MIA_SOURCE_DIR"), *bld = getenv("MIA_BUILD_DIR");
    if (!src || !bld) skip();
    char tool[512];
    snprintf(tool, sizeof tool, "%s/tools/mia-experiment", bld);
    if (access(tool, X_OK) != 0) skip();
    char empty[128];
    snprintf(empty, sizeof empty, "%s/empty-data", g_dir);
    assert_int_equal(mkdir(empty, 0700), 0);
    static const char *const configs[] = {"cifar10-resnet18", "cifar10-efficientnet",
                                          "cifar10-salemcnn", "stanford-dogs-resnet50"};
    for (size_t ci = 0; ci < sizeof configs / sizeof *configs; ci++) {
        char cpath[512], cmd[2048];
        snprintf(cpath, sizeof cpath, "%s/configs/%s.json", src, configs[ci]);
        snprintf(cmd, sizeof cmd, "MIA_DATA_DIR='%s' '%s' run '%s' --dry-run --data-dir '%s'",
                 empty, tool, cpath, empty);
        int status = -1;
        char *text = run_capture(cmd, &status);
        if (status != 0) fail_msg("%s: exit status %d\n%s", configs[ci], status, text);
        assert_non_null(strstr(text, "Stages:"));
        assert_non_null(strstr(text, "3 train"));
        assert_non_null(strstr(text, "Estimated time: "));
        json_error_t je;
        json_t *cfg = json_load_file(cpath, 0, &je);
        assert_non_null(cfg);
        /* The manifests the config names (dataset first, then the non-member sets), once each,
         * with their files folder; the manifest-less folder: specs. */
        const char *names[16], *dirs[16];
        int nm = 0, expected_missing = 0;
        json_t *ds = json_object_get(cfg, "dataset");
        names[nm] = json_string_value(json_object_get(ds, "manifest"));
        dirs[nm++] = json_string_value(json_object_get(ds, "files_dir"));
        size_t i;
        json_t *set;
        json_t *folders = json_array(); /* the dataset's own folder: specs count too */
        const char *dk[] = {"train", "test", "all"};
        for (int k = 0; k < 3; k++)
            if (json_object_get(ds, dk[k]))
                json_array_append_new(folders,
                                      json_pack("{s:O}", "spec", json_object_get(ds, dk[k])));
        json_array_extend(folders, json_object_get(cfg, "non_members"));
        json_array_foreach(folders, i, set) {
            const char *m = json_string_value(json_object_get(set, "manifest"));
            const char *spec = json_string_value(json_object_get(set, "spec"));
            if (!m && spec && strncmp(spec, "folder:", 7) == 0) {
                /* {data}/X -> EMPTY/X, reported as "MISSING EMPTY/X/" */
                assert_non_null(strstr(spec, "{data}/"));
                char line[600];
                snprintf(line, sizeof line, "MISSING  %s/%s/\n", empty, strstr(spec, "{data}/") + 7);
                if (!strstr(text, line)) fail_msg("%s: folder not reported: %s", configs[ci], line);
                expected_missing++;
            }
            if (!m) continue;
            bool dup = false;
            for (int k = 0; k < nm; k++) dup = dup || strcmp(names[k], m) == 0;
            if (!dup) {
                assert_true(nm < 16);
                names[nm] = m;
                dirs[nm++] = json_string_value(json_object_get(set, "files_dir"));
            }
        }
        json_decref(folders);
        for (int k = 0; k < nm; k++) {
            assert_non_null(names[k]);
            assert_non_null(dirs[k]);
            char mpath[512];
            snprintf(mpath, sizeof mpath, "%s/data-manifests/%s.json", src, names[k]);
            json_t *man = json_load_file(mpath, 0, &je);
            if (!man) fail_msg("%s: %s", mpath, je.text);
            char *sec = manifest_section(text, names[k]);
            assert_non_null(strstr(dirs[k], "{data}"));
            size_t fi;
            json_t *f;
            json_array_foreach(json_object_get(man, "files"), fi, f) {
                const char *fname = json_string_value(json_object_get(f, "name"));
                char line[700];
                snprintf(line, sizeof line, "MISSING  %s%s/%s\n", empty,
                         strstr(dirs[k], "{data}") + 6, fname);
                const char *at = strstr(sec, line);
                if (!at) fail_msg("%s: manifest %s: no line '%s' in\n%s", configs[ci], names[k],
                                  line, sec);
                /* The expected values follow the file's line, before the next file. */
                const char *next = strstr(at + strlen(line), "MISSING");
                size_t blen = next ? (size_t)(next - at) : strlen(at);
                char *block = malloc(blen + 1);
                memcpy(block, at, blen);
                block[blen] = '\0';
                static const char *const keys[] = {"sha256", "md5"};
                for (int q = 0; q < 2; q++) {
                    const char *want = json_string_value(json_object_get(f, keys[q]));
                    if (want && !strstr(block, want))
                        fail_msg("%s: %s %s lacks %s %s:\n%s", configs[ci], names[k], fname,
                                 keys[q], want, block);
                }
                json_t *size = json_object_get(f, "size");
                if (json_is_integer(size)) {
                    char sz[64];
                    snprintf(sz, sizeof sz, "size %lld bytes", (long long)json_integer_value(size));
                    assert_non_null(strstr(block, sz));
                }
                /* No published SHA-256: the plan says so instead of inventing one. */
                if (!json_object_get(f, "sha256"))
                    assert_non_null(strstr(block, "sha256           (not published upstream"));
                free(block);
                expected_missing++;
            }
            free(sec);
            json_decref(man);
        }
        /* Exactly these files: as many MISSING lines, nothing else wrong, and the total. */
        int missing = 0, wrong = 0;
        for (const char *q = text; (q = strstr(q, "    MISSING  ")) != NULL; q++) missing++;
        for (const char *q = text; (q = strstr(q, "    WRONG  ")) != NULL; q++) wrong++;
        assert_int_equal(missing, expected_missing);
        assert_int_equal(wrong, 0);
        char total[96];
        snprintf(total, sizeof total, "\n%d data file(s) missing or wrong.\n", expected_missing);
        if (!strstr(text, total)) fail_msg("%s: no '%s' in\n%s", configs[ci], total + 1, text);
        printf("%s: dry run lists %d missing inputs of %d manifest(s)\n", configs[ci],
               expected_missing, nm);
        json_decref(cfg);
        free(text);
    }
}

static int64_t count_lines(const char *path)
{
    char *s = slurp(path, NULL);
    assert_non_null(s);
    int64_t n = 0;
    for (char *p = s; *p; p++) n += *p == '\n';
    free(s);
    return n;
}

static char *json_without_timing(const char *path)
{
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    assert_non_null(j);
    assert_non_null(json_object_get(j, "timing"));
    json_object_del(j, "timing");
    char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(j);
    return s;
}

/* Progress events of a run: nested training (epoch >= 1 under a "train: ..." stage) and GAN
 * training steps (under "fakes: GAN training") only happen when a model is really trained. */
typedef struct {
    int train_epochs, gan_steps, events;
} run_trace;

static bool trace_progress(const mia_progress *p, void *user)
{
    run_trace *t = user;
    t->events++;
    if (strncmp(p->stage, "train:", 6) == 0 && p->epoch >= 1) t->train_epochs++;
    if (strncmp(p->stage, "fakes: GAN training", 19) == 0 && p->step >= 1) t->gan_steps++;
    return true;
}

static const char *const tiny_tags[] = {"", "LS_0.0083_", "L2_0.0003_", "LLLA_",
                                        "temp_10.0_calib_"};

/* Every CSV and per-variant JSON of run directory b equals a's byte for byte, and results.json
 * equals a's after dropping its declared run-dependent object "timing" (experiment.h). */
static void assert_same_outputs(const char *a, const char *b)
{
    char pa[512], pb[512];
    for (int v = 0; v < 5; v++)
        for (int k = 0; k < 2; k++) {
            const char *ext = k ? "json" : "csv";
            snprintf(pa, sizeof pa, "%s/salem_cnn_tiny_%sattack_results.%s", a, tiny_tags[v], ext);
            snprintf(pb, sizeof pb, "%s/salem_cnn_tiny_%sattack_results.%s", b, tiny_tags[v], ext);
            size_t na = 0, nb = 0;
            char *sa = slurp(pa, &na), *sb = slurp(pb, &nb);
            assert_non_null(sa);
            assert_non_null(sb);
            if (na != nb || memcmp(sa, sb, na) != 0) fail_msg("%s differs from %s", pb, pa);
            free(sa);
            free(sb);
        }
    snprintf(pa, sizeof pa, "%s/results.json", a);
    snprintf(pb, sizeof pb, "%s/results.json", b);
    char *ra = json_without_timing(pa), *rb = json_without_timing(pb);
    assert_string_equal(ra, rb);
    free(ra);
    free(rb);
}

/* Options of a test run: into @p out, data from the test's directory, one thread. */
static void run_opts(mia_experiment_opts *o, const char *out)
{
    mia_experiment_opts_init(o);
    o->output_dir = out;
    o->data_dir = g_dir;
    o->n_threads = 1;
}

static bool cancel_at_train(const mia_progress *p, void *user)
{
    (void)user;
    return strncmp(p->stage, "train", 5) != 0;
}

/* The index list @p path (mia_indices_load_csv): its count, and its largest index. */
static int64_t read_indices(const char *path, int64_t *max_out)
{
    int64_t *idx = NULL, n = 0, mx = -1;
    if (mia_indices_load_csv(&idx, &n, path) != MIA_OK) fail_msg("%s", mia_last_error());
    for (int64_t i = 0; i < n; i++) mx = idx[i] > mx ? idx[i] : mx;
    mia_indices_free(idx);
    *max_out = mx;
    return n;
}

/* dataset.all + train_fraction: one dataset of 400 images split 280 / 120 by a seeded
 * permutation, then the usual splits inside each part (the run is cancelled before training). */
static void test_experiment__all_split_by_train_fraction(void **state)
{
    (void)state;
    write_idx("train", 400, 1u);
    const char *a = "\"train\": \"idx:{data}/train-images.idx,{data}/train-labels.idx\", "
                    "\"test\": \"idx:{data}/test-images.idx,{data}/test-labels.idx\",";
    const char *b = "\"all\": \"idx:{data}/train-images.idx,{data}/train-labels.idx\", "
                    "\"train_fraction\": 0.7,";
    char *s = edit(a, b);
    mia_experiment_config *c = NULL;
    if (mia_experiment_config_parse(&c, s, NULL) != MIA_OK) fail_msg("%s", mia_last_error());
    free(s);
    char out[160], p[256];
    snprintf(out, sizeof out, "%s/run-all", g_dir);
    mia_experiment_opts o;
    run_opts(&o, out);
    o.progress = cancel_at_train;
    mia_experiment_result *r = NULL;
    assert_int_equal(mia_experiment_run(&r, c, &o), MIA_ERR_CANCELLED);
    assert_null(r);
    int64_t mx;
    snprintf(p, sizeof p, "%s/splits/target_train.csv", out);
    assert_int_equal(read_indices(p, &mx), 120);
    assert_true(mx < 280); /* indices into the 280-image train part */
    snprintf(p, sizeof p, "%s/splits/shadow_test.csv", out);
    assert_int_equal(read_indices(p, &mx), 60);
    assert_true(mx < 120);
    mia_experiment_config_free(c);
}

static void test_experiment__tiny_run_end_to_end_and_cached_rerun(void **state)
{
    (void)state;
    write_idx("train", 400, 1u);
    write_idx("test", 160, 2u);
    mia_experiment_config *c = NULL;
    assert_int_equal(mia_experiment_config_parse(&c, tiny_config, NULL), MIA_OK);
    char out[128];
    snprintf(out, sizeof out, "%s/run", g_dir);
    mia_experiment_opts o;
    run_opts(&o, out);
    run_trace t1 = {0, 0, 0};
    o.progress = trace_progress;
    o.progress_user_data = &t1;
    mia_experiment_result *r = NULL;
    if (mia_experiment_run(&r, c, &o) != MIA_OK) fail_msg("run: %s", mia_last_error());
    /* 3 training variants x (target, shadow) x 2 epochs, and the 4-step GAN, were trained. */
    assert_true(t1.train_epochs >= 12);
    assert_true(t1.gan_steps >= 1);
    assert_int_equal(mia_experiment_result_n_variants(r), 5);
    assert_int_equal(mia_experiment_result_n_sets(r), 7);
    assert_int_equal(mia_experiment_result_n_attacks(r), 4);
    assert_int_equal(mia_experiment_result_models_cached(r), 0);
    assert_string_equal(mia_experiment_result_variant(r, 1), "LS 0.0083");
    for (int v = 0; v < 5; v++) {
        double acc = mia_experiment_result_accuracy(r, v);
        assert_true(acc >= 0 && acc <= 1);
        for (int s = 0; s < 6; s++)
            for (int a = 0; a < 4; a++) {
                double f = mia_experiment_result_fpr(r, v, s, a);
                assert_true(f >= 0 && f <= 1);
            }
    }
    /* Split index lists: sizes of the config. */
    char p[512];
    snprintf(p, sizeof p, "%s/splits/member_target.csv", out);
    assert_int_equal(count_lines(p), 1 + 40);
    snprintf(p, sizeof p, "%s/splits/target_train.csv", out);
    assert_int_equal(count_lines(p), 1 + 120);
    /* Paper CSV per variant (spec §9.2 names, §9.3 layout: 31 columns, CRLF, rows in order). */
    const char *const *tags = tiny_tags;
    char *csv1[5], *json1[5];
    for (int v = 0; v < 5; v++) {
        snprintf(p, sizeof p, "%s/salem_cnn_tiny_%sattack_results.csv", out, tags[v]);
        csv1[v] = slurp(p, NULL);
        assert_non_null(csv1[v]);
        assert_true(strncmp(csv1[v], ",Threshold Attack Precision,", 28) == 0);
        assert_non_null(strstr(csv1[v], "\r\nOriginal,"));
        assert_non_null(strstr(csv1[v], "\r\nPermuted,"));
        assert_non_null(strstr(csv1[v], "\r\nFakes,"));
        int commas = 0;
        for (char *q = csv1[v]; *q != '\r'; q++) commas += *q == ',';
        assert_int_equal(commas, 30);
        snprintf(p, sizeof p, "%s/salem_cnn_tiny_%sattack_results.json", out, tags[v]);
        json1[v] = slurp(p, NULL);
        assert_non_null(json1[v]);
    }
    /* The CSV's "Threshold Attack FPR" of Original (6th value) is the API's, to 4 decimals. */
    {
        const char *row = strstr(csv1[0], "\r\nOriginal,") + 11;
        double vals[6];
        for (int k = 0; k < 6; k++) {
            vals[k] = strtod(row, (char **)&row);
            row++;
        }
        assert_float_equal(vals[5], mia_experiment_result_fpr(r, 0, 0, 0), 5.1e-5);
    }
    snprintf(p, sizeof p, "%s/results.json", out);
    char *res1 = json_without_timing(p);
    char *html = slurp(mia_experiment_result_report_path(r), NULL);
    assert_non_null(html);
    assert_non_null(strstr(html, "<table"));
    assert_non_null(strstr(html, "<svg"));
    assert_non_null(strstr(html, "data:image/png;base64,"));
    assert_null(strstr(html, "<script"));
    free(html);
    mia_experiment_result_free(r);

    /* Second run: every model from the cache (no training progress at all), identical files. */
    r = NULL;
    run_trace t2 = {0, 0, 0};
    o.progress_user_data = &t2;
    if (mia_experiment_run(&r, c, &o) != MIA_OK) fail_msg("rerun: %s", mia_last_error());
    assert_int_equal(mia_experiment_result_models_cached(r), 6);
    assert_true(t2.events > 0);
    assert_int_equal(t2.train_epochs, 0);
    assert_int_equal(t2.gan_steps, 0);
    for (int v = 0; v < 5; v++) {
        snprintf(p, sizeof p, "%s/salem_cnn_tiny_%sattack_results.csv", out, tags[v]);
        char *s = slurp(p, NULL);
        assert_string_equal(s, csv1[v]);
        free(s);
        snprintf(p, sizeof p, "%s/salem_cnn_tiny_%sattack_results.json", out, tags[v]);
        s = slurp(p, NULL);
        assert_string_equal(s, json1[v]);
        free(s);
        free(csv1[v]);
        free(json1[v]);
    }
    snprintf(p, sizeof p, "%s/results.json", out);
    char *res2 = json_without_timing(p);
    assert_string_equal(res1, res2);
    free(res1);
    free(res2);
    mia_experiment_result_free(r);

    /* A fresh run of the same config in another directory trains everything again and gets
     * the same results. */
    char out2[128];
    snprintf(out2, sizeof out2, "%s/run-fresh", g_dir);
    o.output_dir = out2;
    run_trace t3 = {0, 0, 0};
    o.progress_user_data = &t3;
    r = NULL;
    if (mia_experiment_run(&r, c, &o) != MIA_OK) fail_msg("fresh run: %s", mia_last_error());
    assert_int_equal(mia_experiment_result_models_cached(r), 0);
    assert_int_equal(t3.train_epochs, t1.train_epochs);
    assert_true(t3.gan_steps >= 1);
    assert_same_outputs(out, out2);
    mia_experiment_result_free(r);
    mia_experiment_config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_experiment__config_errors_name_the_key),
        cmocka_unit_test(test_experiment__config_hash_is_canonical),
        cmocka_unit_test(test_experiment__plan_lists_missing_files_with_checksums),
        cmocka_unit_test(test_experiment__dry_run_of_paper_configs_lists_every_missing_file),
        cmocka_unit_test(test_experiment__all_split_by_train_fraction),
        cmocka_unit_test(test_experiment__tiny_run_end_to_end_and_cached_rerun),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
