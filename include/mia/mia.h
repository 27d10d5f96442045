/**
 * @file mia.h
 * @brief Umbrella header: includes every public libmia header.
 *
 * libmia answers whether a trained image classifier leaks which images it was trained on,
 * with score-based membership inference attacks and the metrics that expose their false
 * positives. Start with backend.h and tensor.h, then dataset.h, model.h, train.h, attack.h.
 */
#ifndef MIA_MIA_H
#define MIA_MIA_H

#include "common.h"
#include <mia/version.h>
#include "status.h"
#include "log.h"
#include "backend.h"
#include "tensor.h"
#include "safetensors.h"
#include "graph.h"
#include "model.h"
#include "dataset.h"
#include "transform.h"
#include "train.h"
#include "calib.h"
#include "attack.h"
#include "scores.h"
#include "report.h"
#include "gen.h"
#include "experiment.h"

#endif
