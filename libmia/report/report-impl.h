/* Private structures of the report area (not installed). */
#ifndef MIA_REPORT_IMPL_H
#define MIA_REPORT_IMPL_H

#include "attack/attack-impl.h"
#include "io/io.h"
#include <mia/report.h>

typedef struct mia__report_entry {
    int set;                       /* index into sets */
    const mia_attack_result *res;  /* borrowed */
} mia__report_entry;

typedef struct mia__report_hash {
    char *name, *sha256;
} mia__report_hash;

struct mia_report {
    uint64_t seed;
    char *config_hash, *keep_mask_hash;
    mia__report_hash *datasets, *models;
    size_t n_datasets, n_models;
    bool cross_source;
    char **sets;                   /* row labels, first-seen order */
    int n_sets, cap_sets;
    mia__report_entry *entries;
    int n_entries, cap_entries;
};

/* The entry for (set, kind) or NULL. */
MIA_PRIVATE const mia_attack_result *mia__report_find(const mia_report *rep, int set,
                                                      mia_attack_kind kind);
/* Write the "#" provenance comment lines of the auxiliary CSVs. */
MIA_PRIVATE mia_status mia__report_write_prov_comments(const mia_report *rep, mia_afile *f);
/* Write a CSV field with Python csv QUOTE_MINIMAL rules. */
MIA_PRIVATE mia_status mia__csv_field(mia_afile *f, const char *s);

#endif
