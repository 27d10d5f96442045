/* Seeded splits: random, stratified, the paper's target/shadow/member/non-member split, and
 * exact-duplicate detection across a member/non-member boundary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "data/data-internal.h"
#include "dataset-impl.h"

/* ---- MT19937 + torch.randperm (CPU), spec §1.1 [ext] ---- */
typedef struct mt19937 {
    uint32_t s[624];
    int i;
} mt19937;

static void mt_seed(mt19937 *m, uint32_t seed)
{
    m->s[0] = seed;
    for (int i = 1; i < 624; i++)
        m->s[i] = 1812433253u * (m->s[i - 1] ^ (m->s[i - 1] >> 30)) + (uint32_t)i;
    m->i = 624;
}

static uint32_t mt_next(mt19937 *m)
{
    if (m->i >= 624) {
        for (int k = 0; k < 624; k++) {
            uint32_t y = (m->s[k] & 0x80000000u) | (m->s[(k + 1) % 624] & 0x7fffffffu);
            m->s[k] = m->s[(k + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
        }
        m->i = 0;
    }
    uint32_t y = m->s[m->i++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

static void torch_randperm(int64_t *r, int64_t n, uint64_t seed)
{
    mt19937 m;
    mt_seed(&m, (uint32_t)seed);
    for (int64_t i = 0; i < n; i++) r[i] = i;
    for (int64_t i = 0; i + 1 < n; i++) {
        int64_t z = (int64_t)(mt_next(&m) % (uint64_t)(n - i));
        int64_t t = r[i];
        r[i] = r[i + z];
        r[i + z] = t;
    }
}

static void permutation(int64_t *r, int64_t n, uint64_t seed, mia_split_rng rng)
{
    if (rng == MIA_SPLIT_RNG_TORCH) {
        torch_randperm(r, n, seed);
        return;
    }
    mia_rng g;
    mia__rng_init(&g, seed, MIA_STREAM_SPLIT);
    for (int64_t i = 0; i < n; i++) r[i] = i;
    mia__rng_shuffle(&g, r, n);
}

mia_status mia_split_random(int64_t *first, int64_t n_first, int64_t *second, int64_t n_second,
                            int64_t n, uint64_t seed, mia_split_rng rng)
{
    mia__error_begin();
    MIA_CHECK_ARG(n >= 1, "n must be >= 1 (got %lld)", (long long)n);
    MIA_CHECK_ARG(n_first >= 0 && n_second >= 0 && n_first <= n - n_second,
                  "n_first %lld + n_second %lld exceed n = %lld", (long long)n_first,
                  (long long)n_second, (long long)n);
    MIA_CHECK_ARG(first != NULL || n_first == 0, "first is NULL");
    MIA_CHECK_ARG(second != NULL || n_second == 0, "second is NULL");
    MIA_CHECK_ARG(rng == MIA_SPLIT_RNG_PHILOX || rng == MIA_SPLIT_RNG_TORCH, "invalid rng %d",
                  (int)rng);
    int64_t *p = mia__malloc(sizeof(int64_t) * (size_t)n);
    if (!p) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory for a permutation of %lld",
                             (long long)n);
    permutation(p, n, seed, rng);
    if (n_first) memcpy(first, p, sizeof(int64_t) * (size_t)n_first);
    if (n_second) memcpy(second, p + n_first, sizeof(int64_t) * (size_t)n_second);
    mia__free(p);
    return MIA_OK;
}

__extension__ typedef __int128 i128;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

mia_status mia_split_stratified(int64_t *out, int64_t k, const int32_t *labels, int64_t n,
                                uint64_t seed)
{
    mia__error_begin();
    MIA_CHECK_ARG(out != NULL && labels != NULL, "out or labels is NULL");
    MIA_CHECK_ARG(n >= 1 && k >= 0 && k <= n, "k = %lld must be in 0..n = %lld", (long long)k,
                  (long long)n);
    int32_t maxl = -1;
    for (int64_t i = 0; i < n; i++) {
        MIA_CHECK_ARG(labels[i] >= 0, "labels[%lld] = %d: stratification needs labels >= 0",
                      (long long)i, (int)labels[i]);
        if (labels[i] > maxl) maxl = labels[i];
    }
    MIA_CHECK_ARG(maxl < (1 << 20), "label %d too large", (int)maxl);
    int64_t nc = (int64_t)maxl + 1;
    int64_t *count = mia__calloc((size_t)nc, sizeof(int64_t));
    int64_t *take = mia__calloc((size_t)nc, sizeof(int64_t));
    int64_t *start = mia__calloc((size_t)nc + 1, sizeof(int64_t));
    int64_t *byc = mia__malloc(sizeof(int64_t) * (size_t)n);
    int64_t *fill = mia__calloc((size_t)nc, sizeof(int64_t));
    mia_status st = MIA_OK;
    if (!count || !take || !start || !byc || !fill) {
        st = MIA_ERROR(MIA_ERR_NOMEM, "out of memory for a stratified split");
        goto done;
    }
    for (int64_t i = 0; i < n; i++) count[labels[i]]++;
    int64_t got = 0;
    for (int64_t c = 0; c < nc; c++) {
        take[c] = (int64_t)((i128)k * count[c] / n);
        got += take[c];
    }
    /* largest remainder; ties to the lower class */
    while (got < k) {
        int64_t best = -1;
        i128 bestr = -1;
        for (int64_t c = 0; c < nc; c++) {
            if (take[c] >= count[c]) continue;
            i128 rem = (i128)k * count[c] - (i128)take[c] * n;
            if (rem > bestr) {
                bestr = rem;
                best = c;
            }
        }
        take[best]++;
        got++;
    }
    for (int64_t c = 0; c < nc; c++) start[c + 1] = start[c] + count[c];
    for (int64_t i = 0; i < n; i++) byc[start[labels[i]] + fill[labels[i]]++] = i;
    mia_rng g;
    mia__rng_init(&g, seed, MIA_STREAM_SPLIT);
    int64_t w = 0;
    for (int64_t c = 0; c < nc; c++) {
        mia__rng_shuffle(&g, byc + start[c], count[c]);
        memcpy(out + w, byc + start[c], sizeof(int64_t) * (size_t)take[c]);
        w += take[c];
    }
    qsort(out, (size_t)k, sizeof(int64_t), cmp_i64);
    mia__rng_shuffle(&g, out, k);
done:
    mia__free(count);
    mia__free(take);
    mia__free(start);
    mia__free(byc);
    mia__free(fill);
    return st;
}

/* ---- the paper's split ---- */

struct mia_split {
    int64_t *idx[MIA_PART_COUNT_];
    int64_t n[MIA_PART_COUNT_];
};

void mia_split_opts_init_sized(mia_split_opts *o, size_t size)
{
    mia_split_opts def;
    memset(&def, 0, sizeof def);
    def.struct_size = (uint32_t)sizeof def;
    def.seed = 42;
    def.member_seed = 0;
    def.train_size = 12500;
    def.test_size = 5000;
    def.attack_size = 2500;
    def.stratify_pool = true;
    def.stratify_target_shadow = false;
    def.rng = MIA_SPLIT_RNG_PHILOX;
    if (!o) return;
    memset(o, 0, size);
    memcpy(o, &def, size < sizeof def ? size : sizeof def);
    o->struct_size = (uint32_t)(size < sizeof def ? size : sizeof def);
}

void mia_split_free(mia_split *s)
{
    if (!s) return;
    for (int i = 0; i < MIA_PART_COUNT_; i++) mia__free(s->idx[i]);
    mia__free(s);
}

static const char *const g_part_names[MIA_PART_COUNT_] = {
    "target_train", "shadow_train", "target_test", "shadow_test",
    "member_target", "non_member_target", "member_shadow", "non_member_shadow"};

const char *mia_split_part_name(mia_split_part part)
{
    if ((int)part < 0 || part >= MIA_PART_COUNT_) return "unknown";
    return g_part_names[part];
}

const int64_t *mia_split_indices(const mia_split *s, mia_split_part part, int64_t *n_out)
{
    if (!s || (int)part < 0 || part >= MIA_PART_COUNT_) {
        if (n_out) *n_out = 0;
        return NULL;
    }
    if (n_out) *n_out = s->n[part];
    return s->idx[part];
}

static mia_status part_alloc(mia_split *s, int p, int64_t n)
{
    s->idx[p] = mia__malloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1));
    s->n[p] = n;
    if (!s->idx[p]) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory for split part %s",
                                     g_part_names[p]);
    return MIA_OK;
}

/* dst[i] = base[perm[i]] for the first k of a permutation of n (seed) */
static mia_status draw(int64_t *dst, int64_t k, const int64_t *base, int64_t n, uint64_t seed,
                       mia_split_rng rng, int64_t *rest)
{
    int64_t *p = mia__malloc(sizeof(int64_t) * (size_t)n);
    if (!p) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory for a permutation");
    permutation(p, n, seed, rng);
    for (int64_t i = 0; i < k; i++) dst[i] = base[p[i]];
    if (rest)
        for (int64_t i = k; i < n; i++) rest[i - k] = base[p[i]];
    mia__free(p);
    return MIA_OK;
}

mia_status mia_split_create(mia_split **out, const mia_dataset *train, const mia_dataset *test,
                            const mia_split_opts *opts_in)
{
    mia__error_begin();
    MIA_CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    MIA_CHECK_ARG(train != NULL && test != NULL, "train or test dataset is NULL");
    mia_split_opts o;
    mia_split_opts_init(&o);
    if (opts_in) {
        MIA_CHECK_ARG(opts_in->struct_size >= sizeof(uint32_t) && opts_in->struct_size <= sizeof o,
                      "opts.struct_size %u is invalid", (unsigned)opts_in->struct_size);
        memcpy(&o, opts_in, opts_in->struct_size);
    }
    MIA_CHECK_ARG(o.rng == MIA_SPLIT_RNG_PHILOX || o.rng == MIA_SPLIT_RNG_TORCH,
                  "opts.rng %d is invalid", (int)o.rng);
    MIA_CHECK_ARG(o.train_size >= 1 && 2 * o.train_size <= train->n,
                  "opts.train_size %lld: 2*train_size must be in 2..%lld (train set size)",
                  (long long)o.train_size, (long long)train->n);
    MIA_CHECK_ARG(o.test_size >= 1 && test->n >= 2,
                  "opts.test_size %lld must be >= 1 and the test set needs >= 2 images",
                  (long long)o.test_size);
    int64_t pool_test = test->n > 2 * o.test_size ? 2 * o.test_size : test->n;
    int64_t n_tt = pool_test / 2, n_st = pool_test - n_tt;
    MIA_CHECK_ARG(o.attack_size >= 1 && o.attack_size <= o.train_size && o.attack_size <= n_tt,
                  "opts.attack_size %lld must be in 1..min(train_size %lld, test part %lld)",
                  (long long)o.attack_size, (long long)o.train_size, (long long)n_tt);
    mia_split *s = mia__calloc(1, sizeof *s);
    if (!s) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory for a split");
    mia_status st = MIA_OK;
    int64_t *pool = NULL, *tmp = NULL;
    int32_t *plab = NULL;
    int64_t np = 2 * o.train_size;
    pool = mia__malloc(sizeof(int64_t) * (size_t)(np > test->n ? np : test->n));
    tmp = mia__malloc(sizeof(int64_t) * (size_t)(np > test->n ? np : test->n));
    plab = mia__malloc(sizeof(int32_t) * (size_t)np);
    if (!pool || !tmp || !plab) {
        st = MIA_ERROR(MIA_ERR_NOMEM, "out of memory for a split");
        goto fail;
    }
    /* 1. training pool */
    if (o.stratify_pool) st = mia_split_stratified(pool, np, train->labels, train->n, o.seed);
    else st = mia_split_random(pool, np, NULL, 0, train->n, o.seed, o.rng);
    if (st != MIA_OK) goto fail;
    /* 2. target / shadow */
    if ((st = part_alloc(s, MIA_PART_TARGET_TRAIN, o.train_size)) != MIA_OK ||
        (st = part_alloc(s, MIA_PART_SHADOW_TRAIN, o.train_size)) != MIA_OK)
        goto fail;
    if (o.stratify_target_shadow) {
        for (int64_t i = 0; i < np; i++) plab[i] = train->labels[pool[i]];
        if ((st = mia_split_stratified(tmp, o.train_size, plab, np, o.seed)) != MIA_OK) goto fail;
        uint8_t *mark = mia__calloc((size_t)np, 1);
        if (!mark) {
            st = MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
            goto fail;
        }
        for (int64_t i = 0; i < o.train_size; i++) {
            mark[tmp[i]] = 1;
            s->idx[MIA_PART_TARGET_TRAIN][i] = pool[tmp[i]];
        }
        int64_t w = 0;
        for (int64_t i = 0; i < np; i++)
            if (!mark[i]) s->idx[MIA_PART_SHADOW_TRAIN][w++] = pool[i];
        mia__free(mark);
    } else {
        if ((st = draw(s->idx[MIA_PART_TARGET_TRAIN], o.train_size, pool, np, o.seed, o.rng,
                       s->idx[MIA_PART_SHADOW_TRAIN])) != MIA_OK)
            goto fail;
    }
    /* 3. test pool and its halves */
    if (pool_test < test->n) {
        if ((st = mia_split_random(pool, pool_test, NULL, 0, test->n, o.seed, o.rng)) != MIA_OK)
            goto fail;
    } else {
        for (int64_t i = 0; i < pool_test; i++) pool[i] = i;
    }
    if ((st = part_alloc(s, MIA_PART_TARGET_TEST, n_tt)) != MIA_OK ||
        (st = part_alloc(s, MIA_PART_SHADOW_TEST, n_st)) != MIA_OK)
        goto fail;
    if ((st = draw(s->idx[MIA_PART_TARGET_TEST], n_tt, pool, pool_test, o.seed, o.rng,
                   s->idx[MIA_PART_SHADOW_TEST])) != MIA_OK)
        goto fail;
    /* 4. members / non-members: first attack_size of a permutation with member_seed */
    static const int from[4] = {MIA_PART_TARGET_TRAIN, MIA_PART_TARGET_TEST,
                                MIA_PART_SHADOW_TRAIN, MIA_PART_SHADOW_TEST};
    static const int to[4] = {MIA_PART_MEMBER_TARGET, MIA_PART_NON_MEMBER_TARGET,
                              MIA_PART_MEMBER_SHADOW, MIA_PART_NON_MEMBER_SHADOW};
    for (int j = 0; j < 4; j++) {
        if (o.attack_size > s->n[from[j]]) {
            st = MIA_ERROR(MIA_ERR_INVALID, "opts.attack_size %lld exceeds the %lld images of %s",
                           (long long)o.attack_size, (long long)s->n[from[j]],
                           g_part_names[from[j]]);
            goto fail;
        }
        if ((st = part_alloc(s, to[j], o.attack_size)) != MIA_OK) goto fail;
        if ((st = draw(s->idx[to[j]], o.attack_size, s->idx[from[j]], s->n[from[j]],
                       o.member_seed, o.rng, NULL)) != MIA_OK)
            goto fail;
    }
    mia__free(pool);
    mia__free(tmp);
    mia__free(plab);
    *out = s;
    return MIA_OK;
fail:
    mia__free(pool);
    mia__free(tmp);
    mia__free(plab);
    mia_split_free(s);
    return st;
}

mia_status mia_split_save(const mia_split *s, const char *dir)
{
    mia__error_begin();
    MIA_CHECK_ARG(s != NULL && dir != NULL, "split or dir is NULL");
    char p[4096];
    for (int i = 0; i < MIA_PART_COUNT_; i++) {
        int k = snprintf(p, sizeof p, "%s/%s.csv", dir, g_part_names[i]);
        MIA_CHECK_ARG(k > 0 && (size_t)k < sizeof p, "dir is too long");
        MIA_TRY(mia_indices_save_csv(p, s->idx[i], s->n[i]));
    }
    return MIA_OK;
}

/* ---- exact duplicates ---- */

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

mia_status mia_dataset_find_duplicates(int64_t **pairs_out, int64_t *n_pairs, const mia_dataset *a,
                                       const int64_t *idx_a, int64_t na, const mia_dataset *b,
                                       const int64_t *idx_b, int64_t nb)
{
    mia__error_begin();
    MIA_CHECK_ARG(pairs_out != NULL && n_pairs != NULL, "pairs_out or n_pairs is NULL");
    *pairs_out = NULL;
    *n_pairs = 0;
    MIA_CHECK_ARG(a != NULL && b != NULL && idx_a != NULL && idx_b != NULL,
                  "a dataset or index list is NULL");
    MIA_CHECK_ARG(na >= 0 && nb >= 0, "na and nb must be >= 0");
    if (a->c != b->c || a->h != b->h || a->w != b->w)
        return MIA_ERROR(MIA_ERR_MISMATCH, "duplicates: image geometries of '%s' and '%s' differ",
                         a->source, b->source);
    for (int64_t i = 0; i < na; i++)
        MIA_CHECK_ARG(idx_a[i] >= 0 && idx_a[i] < a->n, "idx_a[%lld] = %lld out of range",
                      (long long)i, (long long)idx_a[i]);
    for (int64_t i = 0; i < nb; i++)
        MIA_CHECK_ARG(idx_b[i] >= 0 && idx_b[i] < b->n, "idx_b[%lld] = %lld out of range",
                      (long long)i, (long long)idx_b[i]);
    if (na == 0 || nb == 0) return MIA_OK;
    size_t per = (size_t)(a->c * a->h * a->w);
    size_t cap = 16;
    while (cap < (size_t)na * 2) cap <<= 1;
    int64_t *slot = mia__malloc(sizeof(int64_t) * cap);
    uint64_t *hs = mia__malloc(sizeof(uint64_t) * cap);
    int64_t *pairs = mia__malloc(sizeof(int64_t) * 2 * (size_t)nb);
    if (!slot || !hs || !pairs) {
        mia__free(slot);
        mia__free(hs);
        mia__free(pairs);
        return MIA_ERROR(MIA_ERR_NOMEM, "out of memory for the duplicate table");
    }
    for (size_t i = 0; i < cap; i++) slot[i] = -1;
    for (int64_t i = 0; i < na; i++) {
        uint64_t h = fnv1a(a->pixels + (size_t)idx_a[i] * per, per);
        size_t j = (size_t)h & (cap - 1);
        while (slot[j] >= 0) j = (j + 1) & (cap - 1);
        slot[j] = i;
        hs[j] = h;
    }
    int64_t np = 0;
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *pb = b->pixels + (size_t)idx_b[i] * per;
        uint64_t h = fnv1a(pb, per);
        for (size_t j = (size_t)h & (cap - 1); slot[j] >= 0; j = (j + 1) & (cap - 1)) {
            if (hs[j] == h && memcmp(a->pixels + (size_t)idx_a[slot[j]] * per, pb, per) == 0) {
                pairs[2 * np] = slot[j];
                pairs[2 * np + 1] = i;
                np++;
                break;
            }
        }
    }
    mia__free(slot);
    mia__free(hs);
    if (np == 0) {
        mia__free(pairs);
        return MIA_OK;
    }
    *pairs_out = pairs;
    *n_pairs = np;
    return MIA_OK;
}
