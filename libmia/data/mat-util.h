/* Small matio helpers shared by svhn.c and dogs.c. Not installed. */
#ifndef MIA_MAT_UTIL_H
#define MIA_MAT_UTIL_H

#include "mia-internal.h"

#if MIA_HAVE_MATIO
#include <matio.h>
/* Silence matio's stderr logging (process-wide; libmia never prints). */
MIA_PRIVATE void mia__matio_quiet(void);
/* Element i of a real numeric matvar as double; returns 0 on success, -1 for a non-numeric
 * class or complex data. */
MIA_PRIVATE int mia__mat_get_number(const matvar_t *v, size_t i, double *out);
/* Walk the MAT v5 element headers of path (inflating compressed ones) and refuse cell/struct
 * arrays whose dims claim more elements than their bytes can hold, before matio allocates from
 * them (mat-check.c). Files that are not MAT v5 are refused (v7.3/HDF5: MIA_ERR_UNSUPPORTED). */
MIA_PRIVATE mia_status mia__mat_precheck(const char *path, const char *label);
/* Product of dims (0 on overflow). */
MIA_PRIVATE size_t mia__mat_numel(const matvar_t *v);
#endif

#endif
