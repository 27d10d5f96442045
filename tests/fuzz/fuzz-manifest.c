/* libFuzzer target: the data manifest reader (mia_manifest_verify). The input is the manifest
 * JSON; the data directory holds two small files ("a.bin" = "abc", "b.gz" = gzip of "abc") so
 * present, missing and mismatching entries are all reachable. */
#include "fuzz-common.h"
#include "mia/dataset.h"
#include "mia/status.h"

static const uint8_t gz_abc[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xff,
                                 0x4b, 0x4c, 0x4a, 0x06, 0x00, 0xc2, 0x41, 0x24, 0x35, 0x03,
                                 0x00, 0x00, 0x00};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        fuzz_mkdir(0, "data");
        fuzz_write(0, "data/a.bin", "abc", 3);
        fuzz_write(0, "data/b.gz", gz_abc, sizeof gz_abc);
        init = 1;
    }
    const char *m = fuzz_write(1, "manifest.json", data, size);
    mia_manifest_report *r = NULL;
    mia_status s = mia_manifest_verify(&r, m, fuzz_path(2, "data"));
    if (s == MIA_OK) {
        fuzz_accepted++;
        int64_t n = mia_manifest_report_count(r);
        for (int64_t i = 0; i <= n; i++) {
            (void)mia_manifest_report_name(r, i);
            (void)mia_manifest_report_status(r, i);
            (void)mia_manifest_report_detail(r, i);
        }
        (void)mia_manifest_report_ok(r);
        mia_manifest_report_free(r);
    } else if (r || !mia_last_error()[0]) {
        abort();
    }
    return 0;
}
