/* libFuzzer target: the capped libarchive wrapper (mia__archive_foreach): tar / tar.gz / zip.
 * Input: byte 0 picks caps (bit 0: tight caps — 16 entries, 4 KiB per entry, 16 KiB total,
 * ratio 10 after 1 KiB; bit 1: want callback that skips every other entry; bit 2: the entry
 * callback stops with MIA_ERR_FORMAT at the 2nd entry), rest = the archive. */
#include "data/archive.h"
#include "fuzz-common.h"
#include "mia-internal.h"
#include "mia/status.h"

typedef struct {
    unsigned flags;
    int seen;
    int want_calls;
} ctx;

static int want(const char *name, int64_t declared, void *user)
{
    ctx *c = user;
    if (!name || declared < -1) abort(); /* -1: size not in the header (zip streams) */
    return (c->want_calls++ & 1) ? 0 : 1;
}

static mia_status take(const char *name, const uint8_t *data, size_t size, void *user)
{
    ctx *c = user;
    if (size) fuzz_sink += data[0] + data[size - 1];
    fuzz_sink += (unsigned)strlen(name);
    if ((c->flags & 4) && ++c->seen == 2) return MIA_ERR_FORMAT;
    return MIA_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    ctx c = {data[0], 0, 0};
    const char *p = fuzz_write(0, "in.tar.gz", data + 1, size - 1);
    mia_archive_caps caps;
    mia__archive_caps_default(&caps);
    if (c.flags & 1) {
        caps.max_entries = 16;
        caps.max_entry_bytes = 4096;
        caps.max_total_bytes = 16384;
        caps.max_ratio = 10;
        caps.ratio_grace = 1024;
        caps.max_name_len = 64;
    } else {
        caps.max_entry_bytes = 1 << 22;
        caps.max_total_bytes = 1 << 24;
    }
    mia__error_begin();
    mia_status s = mia__archive_foreach(p, &caps, (c.flags & 2) ? want : NULL, take, &c);
    if (s == MIA_OK) fuzz_accepted++;
    if (s != MIA_OK && !mia_last_error()[0] && !((c.flags & 4) && c.seen == 2)) abort();
    return 0;
}
