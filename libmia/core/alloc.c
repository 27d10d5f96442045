/* The one allocator of libmia, with a failure-injection countdown for OOM tests (SQLite-style).
 * Every allocation carries a small header so aligned blocks and plain blocks free the same way. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "mia-internal.h"

static atomic_long g_countdown;   /* > 0: fail when it reaches 0 */
static atomic_int g_persistent;
static atomic_int g_tripped;
static atomic_long g_injected;
static atomic_llong g_live;

void mia__alloc_fail_after(long n, int persistent)
{
    atomic_store(&g_tripped, 0);
    atomic_store(&g_injected, 0);
    atomic_store(&g_persistent, persistent);
    atomic_store(&g_countdown, n > 0 ? n : 0);
}

long mia__alloc_injected(void) { return atomic_load(&g_injected); }

int64_t mia__alloc_live(void) { return (int64_t)atomic_load(&g_live); }

static int should_fail(void)
{
    if (atomic_load(&g_tripped) && atomic_load(&g_persistent)) {
        atomic_fetch_add(&g_injected, 1);
        return 1;
    }
    long c = atomic_load(&g_countdown);
    while (c > 0) {
        if (atomic_compare_exchange_weak(&g_countdown, &c, c - 1)) {
            if (c == 1) {
                atomic_store(&g_tripped, 1);
                atomic_fetch_add(&g_injected, 1);
                return 1;
            }
            return 0;
        }
    }
    return 0;
}

/* Header in front of every block: the pointer malloc returned, and the usable size. */
typedef struct hdr {
    void *base;
    size_t size;
} hdr;

#define HDR_ALIGN 16

static void *alloc_impl(size_t alignment, size_t n, int zero)
{
    if (should_fail()) return NULL;
    if (alignment < HDR_ALIGN) alignment = HDR_ALIGN;
    size_t total = n + alignment + sizeof(hdr);
    if (total < n) return NULL;
    unsigned char *base = zero ? calloc(1, total) : malloc(total);
    if (!base) return NULL;
    uintptr_t p = ((uintptr_t)base + sizeof(hdr) + alignment - 1) & ~(uintptr_t)(alignment - 1);
    hdr *h = (hdr *)p - 1;
    h->base = base;
    h->size = n;
    atomic_fetch_add(&g_live, 1);
    return (void *)p;
}

void *mia__malloc(size_t n) { return alloc_impl(HDR_ALIGN, n ? n : 1, 0); }

void *mia__calloc(size_t count, size_t size)
{
    size_t n;
    if (mia__mul_size(count, size, &n)) return NULL;
    return alloc_impl(HDR_ALIGN, n ? n : 1, 1);
}

void *mia__aligned_alloc(size_t alignment, size_t n)
{
    if (alignment == 0 || (alignment & (alignment - 1))) return NULL;
    return alloc_impl(alignment, n ? n : 1, 0);
}

void mia__free(void *p)
{
    if (!p) return;
    hdr *h = (hdr *)p - 1;
    atomic_fetch_sub(&g_live, 1);
    free(h->base);
}

void *mia__realloc(void *p, size_t n)
{
    if (!p) return mia__malloc(n);
    hdr *h = (hdr *)p - 1;
    void *q = mia__malloc(n);
    if (!q) return NULL;
    memcpy(q, p, h->size < n ? h->size : n);
    mia__free(p);
    return q;
}

char *mia__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = mia__malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}
