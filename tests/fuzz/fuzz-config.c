/* libFuzzer target: the experiment config reader (mia_experiment_config_parse: JSON text, key
 * validation). The input is the JSON text (copied and NUL-terminated); relative paths resolve
 * against the scratch directory. */
#include "fuzz-common.h"
#include "mia/experiment.h"
#include "mia/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) abort();
    memcpy(text, data, size);
    text[size] = '\0';
    mia_experiment_config *c = (mia_experiment_config *)0x1;
    mia_status s = mia_experiment_config_parse(&c, text, fuzz_dir());
    if (s == MIA_OK) {
        fuzz_accepted++;
        char hex[65];
        fuzz_sink += strlen(mia_experiment_config_name(c));
        const char *od = mia_experiment_config_output_dir(c);
        if (od) fuzz_sink += strlen(od);
        mia_experiment_config_hash_hex(c, hex);
        if (strlen(hex) != 64) abort();
        mia_experiment_config_free(c);
    } else if (c || !mia_last_error()[0]) {
        abort();
    }
    free(text);
    return 0;
}
