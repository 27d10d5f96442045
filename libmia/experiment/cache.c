/*
 * Cache of trained models in the run directory. A model file is named by the SHA-256 of
 * everything that determines its weights: the training data (content hash of the exact
 * subset, in order), the training configuration (mia_train_config_hash: optimiser, its
 * hyper-parameters, epochs, batch, smoothing, seed, architecture and input shape), the
 * initialisation seed and the backend type. The same config on the same data therefore finds
 * its models again; any change that would change the weights gives a new name.
 */
#include <stdio.h>
#include <string.h>

#include "experiment-impl.h"
#include "../io/io.h"

mia_status mia__exp_cache_key(char out[65], const mia_dataset *train_data,
                              const char *train_config_hash, const char *backend,
                              uint64_t model_seed)
{
    if (!out || !train_data || !train_config_hash || !backend)
        return MIA_ERROR(MIA_ERR_INVALID, "cache key: NULL argument");
    char data_hash[65];
    mia_dataset_hash_hex(train_data, data_hash);
    char text[512];
    int n = snprintf(text, sizeof text, "libmia-experiment-model-v1\ndata=%s\ntrain=%s\n"
                                        "backend=%s\ninit_seed=%llu\n",
                     data_hash, train_config_hash, backend, (unsigned long long)model_seed);
    if (n < 0 || (size_t)n >= sizeof text)
        return MIA_ERROR(MIA_ERR_INVALID, "cache key: backend name too long");
    uint8_t dg[32];
    mia__sha256(text, (size_t)n, dg);
    mia__sha256_hex(dg, out);
    return MIA_OK;
}
