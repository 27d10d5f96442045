/* libFuzzer target: the training checkpoint reader (mia__ckpt_resume: safetensors + metadata
 * validation, hashes, model/optimiser state) for a small MLP (6 -> 4 -> 3, Adam). The input is
 * written as <scratch>/ckpt/ckpt-000000000001.safetensors. With MIA_FUZZ_MAKE_SEED=PATH set, the first call
 * first writes a valid checkpoint of that model to PATH (how corpus/checkpoint/ok-* are made). */
#include "fuzz-common.h"
#include "mia/backend.h"
#include "mia/model.h"
#include "mia/status.h"
#include "mia/train.h"
#include "train/train-internal.h"

static mia_backend *g_be;
static mia_model *g_m;
static mia_optim_state *g_os;

static void init_once(void)
{
    if (g_be) return;
    mia_model_opts mo;
    mia_model_opts_init(&mo);
    mo.in_channels = 6;
    mo.n_classes = 3;
    mo.mlp_n_hidden = 1;
    mo.mlp_hidden[0] = 4;
    mia_train_opts to;
    mia_train_opts_init(&to);
    if (mia_backend_create(&g_be, "ref", NULL) != MIA_OK ||
        mia_model_create(&g_m, g_be, "mlp", &mo) != MIA_OK ||
        mia__optim_create(&g_os, g_m, &to) != MIA_OK)
        abort();
    const char *seed = getenv("MIA_FUZZ_MAKE_SEED");
    if (seed) {
        mia_ckpt_pos pos = {1, 2, 7, 7, 1.5, 3, 4};
        const char *dir = fuzz_path(3, "seed");
        if (mia__ckpt_save(dir, g_m, g_os, &pos, "cfg", "data", 42) != MIA_OK) abort();
        char p[600], cmd[1400];
        snprintf(p, sizeof p, "%s/ckpt-000000000007.safetensors", dir);
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", p, seed);
        if (system(cmd) != 0) abort();
    }
}

/* a checkpoint is a safetensors file: its header ends at 8 + N */
size_t fuzz_header_end(const uint8_t *data, size_t size)
{
    if (size < 8) return 0;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | data[i];
    return n <= size - 8 ? (size_t)n + 8 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    fuzz_clear();
    fuzz_mkdir(0, "ckpt");
    fuzz_write(1, "ckpt/ckpt-000000000001.safetensors", data, size);
    mia_ckpt_pos pos;
    memset(&pos, 0, sizeof pos);
    bool found = false;
    char path[1024];
    mia_status s = mia__ckpt_resume(fuzz_path(2, "ckpt"), g_m, g_os, &pos, "cfg", "data", &found,
                                    path, sizeof path);
    if (s == MIA_OK && found) {
        fuzz_accepted++;
        if (pos.epoch < 0 || pos.global_step < 0) abort();
    } else if (s != MIA_OK && !mia_last_error()[0]) {
        abort();
    }
    return 0;
}
