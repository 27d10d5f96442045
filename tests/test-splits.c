/* Splits: random (Philox and torch-exact), stratified, the paper's target/shadow/member split,
 * CSV export, and exact-duplicate detection. */
#include "test-data-fixtures.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <mia/dataset.h>

#include "mia-internal.h"

static void test_splits__torch_randperm_exact(void **state)
{
    (void)state;
    /* oracle: Debian python3-torch 1.13, torch.manual_seed(s); torch.randperm(n) */
    int64_t a[10], b[8], c[6];
    assert_int_equal(mia_split_random(a, 10, NULL, 0, 10, 42, MIA_SPLIT_RNG_TORCH), MIA_OK);
    const int64_t wa[10] = {2, 6, 1, 8, 4, 5, 0, 9, 3, 7};
    assert_memory_equal(a, wa, sizeof wa);
    assert_int_equal(mia_split_random(b, 8, NULL, 0, 25, 0, MIA_SPLIT_RNG_TORCH), MIA_OK);
    const int64_t wb[8] = {19, 16, 6, 17, 5, 24, 11, 8};
    assert_memory_equal(b, wb, sizeof wb);
    assert_int_equal(mia_split_random(c, 6, NULL, 0, 10000, 42, MIA_SPLIT_RNG_TORCH), MIA_OK);
    const int64_t wc[6] = {7542, 8214, 3698, 2841, 8086, 2550};
    assert_memory_equal(c, wc, sizeof wc);
}

static void test_splits__random_is_partition(void **state)
{
    (void)state;
    enum { N = 1000 };
    int64_t f[600], s[400];
    assert_int_equal(mia_split_random(f, 600, s, 400, N, 3, MIA_SPLIT_RNG_PHILOX), MIA_OK);
    uint8_t seen[N] = {0};
    for (int i = 0; i < 600; i++) seen[f[i]]++;
    for (int i = 0; i < 400; i++) seen[s[i]]++;
    for (int i = 0; i < N; i++) assert_int_equal(seen[i], 1);
    int64_t f2[600];
    assert_int_equal(mia_split_random(f2, 600, NULL, 0, N, 3, MIA_SPLIT_RNG_PHILOX), MIA_OK);
    assert_memory_equal(f, f2, sizeof f);
    assert_int_equal(mia_split_random(f2, 600, NULL, 0, N, 4, MIA_SPLIT_RNG_PHILOX), MIA_OK);
    assert_memory_not_equal(f, f2, sizeof f);
    assert_int_equal(mia_split_random(f, 600, s, 401, N, 3, MIA_SPLIT_RNG_PHILOX),
                     MIA_ERR_INVALID);
    assert_non_null(strstr(mia_last_error(), "n_second"));
}

static void test_splits__stratified_counts(void **state)
{
    (void)state;
    enum { N = 1003 };
    int32_t lab[N];
    int64_t cnt[4] = {0};
    for (int i = 0; i < N; i++) {
        lab[i] = i % 7 == 0 ? 3 : i % 3; /* uneven classes */
        cnt[lab[i]]++;
    }
    int64_t out[500];
    assert_int_equal(mia_split_stratified(out, 500, lab, N, 9), MIA_OK);
    int64_t got[4] = {0};
    uint8_t seen[N] = {0};
    for (int i = 0; i < 500; i++) {
        assert_true(out[i] >= 0 && out[i] < N);
        assert_int_equal(seen[out[i]]++, 0);
        got[lab[out[i]]]++;
    }
    /* each class gets floor or ceil of its proportional share */
    for (int k = 0; k < 4; k++) {
        double share = 500.0 * (double)cnt[k] / N;
        assert_true(got[k] >= (int64_t)share && got[k] <= (int64_t)share + 1);
    }
    int32_t neg[2] = {0, -1};
    assert_int_equal(mia_split_stratified(out, 1, neg, 2, 1), MIA_ERR_INVALID);
    assert_non_null(strstr(mia_last_error(), "labels[1]"));
}

static mia_dataset *labelled(int64_t n, int classes, int distinct)
{
    /* 1-channel 2x2 images whose pixels encode the index (distinct) */
    uint8_t *buf = malloc(16 + (size_t)n * 4);
    uint32_t d3[3] = {(uint32_t)n, 2, 2}, d1[1] = {(uint32_t)n};
    uint8_t *px = malloc((size_t)n * 4);
    for (int64_t i = 0; i < n; i++) {
        px[4 * i] = (uint8_t)i; px[4 * i + 1] = (uint8_t)(i >> 8);
        px[4 * i + 2] = distinct ? 0 : 1; px[4 * i + 3] = 7;
    }
    write_bytes(tpath("sp.idx"), buf, idx_encode(buf, 3, d3, px));
    uint8_t *lbuf = malloc(8 + (size_t)n);
    uint8_t lab[4096];
    for (int64_t i = 0; i < n; i++) lab[i] = (uint8_t)(i % classes);
    write_bytes(tpath("spl.idx"), lbuf, idx_encode(lbuf, 1, d1, lab));
    mia_dataset *d = NULL;
    if (mia_dataset_load_idx(&d, tpath("sp.idx"), tpath("spl.idx"), NULL) != MIA_OK) abort();
    free(buf);
    free(px);
    free(lbuf);
    return d;
}

static void test_splits__paper_split(void **state)
{
    (void)state;
    mia_dataset *tr = labelled(1000, 10, 1), *te = labelled(300, 10, 1);
    mia_split_opts o;
    mia_split_opts_init(&o);
    assert_int_equal(o.seed, 42);
    assert_int_equal(o.train_size, 12500);
    o.train_size = 250;
    o.test_size = 100;
    o.attack_size = 50;
    mia_split *s = NULL;
    assert_int_equal(mia_split_create(&s, tr, te, &o), MIA_OK);
    int64_t n[MIA_PART_COUNT_];
    const int64_t *p[MIA_PART_COUNT_];
    for (int i = 0; i < MIA_PART_COUNT_; i++) p[i] = mia_split_indices(s, (mia_split_part)i, &n[i]);
    assert_int_equal(n[MIA_PART_TARGET_TRAIN], 250);
    assert_int_equal(n[MIA_PART_SHADOW_TRAIN], 250);
    assert_int_equal(n[MIA_PART_TARGET_TEST], 100);
    assert_int_equal(n[MIA_PART_SHADOW_TEST], 100);
    for (int i = MIA_PART_MEMBER_TARGET; i < MIA_PART_COUNT_; i++) assert_int_equal(n[i], 50);
    /* disjointness of target and shadow; class balance of the 500 pool */
    uint8_t seen[1000] = {0};
    int64_t cls[10] = {0};
    for (int k = 0; k < 2; k++)
        for (int64_t i = 0; i < 250; i++) {
            assert_int_equal(seen[p[k][i]]++, 0);
            cls[mia_dataset_label(tr, p[k][i])]++;
        }
    for (int c = 0; c < 10; c++) assert_int_equal(cls[c], 50);
    uint8_t tseen[300] = {0};
    for (int k = 2; k < 4; k++)
        for (int64_t i = 0; i < 100; i++) assert_int_equal(tseen[p[k][i]]++, 0);
    /* members are a subset of their pool */
    int sub_of[4][2] = {{MIA_PART_MEMBER_TARGET, MIA_PART_TARGET_TRAIN},
                        {MIA_PART_NON_MEMBER_TARGET, MIA_PART_TARGET_TEST},
                        {MIA_PART_MEMBER_SHADOW, MIA_PART_SHADOW_TRAIN},
                        {MIA_PART_NON_MEMBER_SHADOW, MIA_PART_SHADOW_TEST}};
    for (int j = 0; j < 4; j++)
        for (int64_t i = 0; i < 50; i++) {
            int found = 0;
            for (int64_t k = 0; k < n[sub_of[j][1]]; k++) found |= p[sub_of[j][1]][k] == p[sub_of[j][0]][i];
            assert_true(found);
        }
    /* spec §1.2 step 5: member draws use seed 0 on every pool, so relative positions agree */
    int64_t pos[50];
    assert_int_equal(mia_split_random(pos, 50, NULL, 0, 250, 0, MIA_SPLIT_RNG_PHILOX), MIA_OK);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(p[MIA_PART_MEMBER_TARGET][i], p[MIA_PART_TARGET_TRAIN][pos[i]]);
        assert_int_equal(p[MIA_PART_MEMBER_SHADOW][i], p[MIA_PART_SHADOW_TRAIN][pos[i]]);
    }
    /* save: one CSV per part */
    assert_int_equal(mia_split_save(s, g_tmp), MIA_OK);
    size_t len;
    uint8_t *csv = read_bytes(tpath("member_target.csv"), &len);
    assert_memory_equal(csv, "index\n", 6);
    free(csv);
    mia_split_free(s);
    /* too-large sizes are named */
    o.train_size = 600;
    s = (mia_split *)1;
    assert_int_equal(mia_split_create(&s, tr, te, &o), MIA_ERR_INVALID);
    assert_non_null(strstr(mia_last_error(), "train_size"));
    assert_null(s);
    mia_dataset_free(tr);
    mia_dataset_free(te);
}

static void test_splits__duplicates(void **state)
{
    (void)state;
    mia_dataset *a = labelled(300, 3, 1), *b = NULL;
    int64_t ia[3] = {10, 20, 30}, ib[4] = {31, 20, 10, 5};
    assert_int_equal(mia_dataset_subset(&b, a, ib, 4), MIA_OK);
    int64_t jb[4] = {0, 1, 2, 3};
    int64_t *pairs = NULL, np = -1;
    assert_int_equal(mia_dataset_find_duplicates(&pairs, &np, a, ia, 3, b, jb, 4), MIA_OK);
    assert_int_equal(np, 2);
    const int64_t want[4] = {1, 1, 0, 2}; /* (pos in A, pos in B) */
    assert_memory_equal(pairs, want, sizeof want);
    mia_indices_free(pairs);
    int64_t none_b[1] = {0};
    assert_int_equal(mia_dataset_find_duplicates(&pairs, &np, a, ia, 3, b, none_b, 1), MIA_OK);
    assert_int_equal(np, 0);
    assert_null(pairs);
    mia_dataset_free(b);
    mia_dataset_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_splits__torch_randperm_exact),
        cmocka_unit_test(test_splits__random_is_partition),
        cmocka_unit_test(test_splits__stratified_counts),
        cmocka_unit_test(test_splits__paper_split),
        cmocka_unit_test(test_splits__duplicates),
    };
    return cmocka_run_group_tests(tests, tmp_setup, tmp_teardown);
}
