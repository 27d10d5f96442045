/* mia-train: train, calibrate, evaluate and run models. Argument parsing and printing only;
 * the logic is in libmia (train.h, calib.h). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool-common.h"

static const char usage_text[] =
    "Usage: mia-train COMMAND [OPTIONS]\n"
    "       mia-train --list-archs | --help | --version\n"
    "\n"
    "Commands:\n"
    "  train      train a model (a target or shadow model) and write its weights\n"
    "  calibrate  fit temperature scaling or LLLA on a trained model; report and optionally\n"
    "             evaluate / write calibrated probabilities\n"
    "  eval       accuracy, loss, ECE and overconfidence error of a model on a dataset\n"
    "  predict    per-sample CSV (index,label,score_0..score_k) of softmax scores or logits\n"
    "\n"
    "Data (SPEC as mia_dataset_load: fashion-mnist:train, cifar10:DIR:test, idx:IMG,LAB, ...):\n"
    "  --data SPEC            dataset (train: training data; eval/predict: data to score)\n"
    "  --subset N             use a seeded stratified subset of N images of --data\n"
    "  --subset-seed S        seed of the subset (default 0)\n"
    "  --save-indices FILE    write the subset's indices (CSV, header \"index\")\n"
    "  --val SPEC             train: validation set evaluated after each epoch\n"
    "\n"
    "train options (defaults are the paper's preset, spec §3):\n"
    "  --arch NAME            architecture (see --list-archs)\n"
    "  --classes K            outputs (default: the dataset's number of classes)\n"
    "  --epochs N             default 100\n"
    "  --batch-size N         default 64\n"
    "  --lr X                 default 0.001 for salem_cnn, 0.01 otherwise\n"
    "  --optimizer adam|sgd   default adam (betas 0.9/0.999, eps 1e-8)\n"
    "  --momentum X           sgd momentum (default 0.9)\n"
    "  --nesterov             sgd Nesterov momentum\n"
    "  --weight-decay X       coupled L2 on all parameters (default 0)\n"
    "  --label-smoothing E    label smoothing epsilon (default 0)\n"
    "  --schedule none|step|cosine  per-epoch LR schedule (default none)\n"
    "  --step-size N --gamma X      StepLR parameters (default 30, 0.1)\n"
    "  --seed S               initialisation, shuffling and dropout seed (default 0)\n"
    "  --checkpoint-dir DIR   write crash-safe checkpoints (each epoch; see --checkpoint-every)\n"
    "  --checkpoint-every N   also every N steps\n"
    "  --resume               continue from the newest valid checkpoint in DIR\n"
    "  -o FILE                output weights (safetensors, PyTorch state_dict keys)\n"
    "\n"
    "calibrate options:\n"
    "  --model FILE           trained weights (also for eval / predict)\n"
    "  --method temperature|llla\n"
    "  --T X                  temperature: fixed T (otherwise fitted on --data, held out)\n"
    "  --fit SPEC             llla: Hessian data (the model's training set)\n"
    "  --data SPEC            temperature fit data / llla var0-search validation data\n"
    "  --ood SPEC             llla: OOD set of the search (default: the paper's noise set)\n"
    "  --var0 X               llla: fixed prior variance (skips the search)\n"
    "  --samples N            llla: MC samples of the predictive (default 100)\n"
    "  --paper-exact          llla: fresh MC noise on every call, as the paper\n"
    "  --test SPEC            evaluate the calibrated model on SPEC\n"
    "  -o FILE                write calibrated probabilities of --test as CSV\n"
    "\n"
    "predict options: --scores (softmax, default) | --logits, -o FILE (required; written atomically)\n"
    "\n"
    "Common: --backend auto|ref|onednn|cuda (default auto), --threads N, --batch N (eval batch,\n"
    "        default 128), -v (info), -q (quiet), --help\n"
    "\n"
    "Exit status: 0 success, 1 failure (I/O, format, numeric, mismatch), 2 usage, 3 out of\n"
    "memory, 4 cancelled (SIGINT/SIGTERM; training writes a checkpoint first when a directory\n"
    "is set).\n";

typedef struct args {
    const char *cmd, *arch, *data, *val, *model, *out, *method, *fit, *ood, *test, *backend,
        *ckdir, *save_idx, *optimizer, *schedule;
    int64_t subset, subset_seed, classes, epochs, batch_size, threads, ckevery, eval_batch,
        samples, step_size, seed;
    double lr, momentum, wd, ls, T, var0, gamma;
    bool resume, logits, paper_exact, nesterov, have_lr, have_epochs, have_bs, have_mom;
} args;

enum {
    O_ARCH = 256, O_DATA, O_SUBSET, O_SUBSET_SEED, O_SAVE_IDX, O_VAL, O_CLASSES, O_EPOCHS,
    O_BS, O_LR, O_OPT, O_MOM, O_NEST, O_WD, O_LS, O_SCHED, O_STEPSIZE, O_GAMMA, O_SEED, O_CKDIR,
    O_CKEVERY, O_RESUME, O_MODEL, O_METHOD, O_T, O_FIT, O_OOD, O_VAR0, O_SAMPLES, O_PAPER,
    O_TEST, O_SCORES, O_LOGITS, O_BACKEND, O_THREADS, O_BATCH, O_LIST, O_HELP, O_VERSION
};

static const struct option long_opts[] = {
    {"arch", 1, 0, O_ARCH}, {"data", 1, 0, O_DATA}, {"subset", 1, 0, O_SUBSET},
    {"subset-seed", 1, 0, O_SUBSET_SEED}, {"save-indices", 1, 0, O_SAVE_IDX},
    {"val", 1, 0, O_VAL}, {"classes", 1, 0, O_CLASSES}, {"epochs", 1, 0, O_EPOCHS},
    {"batch-size", 1, 0, O_BS}, {"lr", 1, 0, O_LR}, {"optimizer", 1, 0, O_OPT},
    {"momentum", 1, 0, O_MOM}, {"nesterov", 0, 0, O_NEST}, {"weight-decay", 1, 0, O_WD},
    {"label-smoothing", 1, 0, O_LS}, {"schedule", 1, 0, O_SCHED},
    {"step-size", 1, 0, O_STEPSIZE}, {"gamma", 1, 0, O_GAMMA}, {"seed", 1, 0, O_SEED},
    {"checkpoint-dir", 1, 0, O_CKDIR}, {"checkpoint-every", 1, 0, O_CKEVERY},
    {"resume", 0, 0, O_RESUME}, {"model", 1, 0, O_MODEL}, {"method", 1, 0, O_METHOD},
    {"T", 1, 0, O_T}, {"fit", 1, 0, O_FIT}, {"ood", 1, 0, O_OOD}, {"var0", 1, 0, O_VAR0},
    {"samples", 1, 0, O_SAMPLES}, {"paper-exact", 0, 0, O_PAPER}, {"test", 1, 0, O_TEST},
    {"scores", 0, 0, O_SCORES}, {"logits", 0, 0, O_LOGITS}, {"backend", 1, 0, O_BACKEND},
    {"threads", 1, 0, O_THREADS}, {"batch", 1, 0, O_BATCH}, {"list-archs", 0, 0, O_LIST},
    {"help", 0, 0, O_HELP}, {"version", 0, 0, O_VERSION}, {0, 0, 0, 0}};

static int list_archs(void)
{
    printf("%-24s %12s  %s\n", "arch", "parameters", "description (default input)");
    for (size_t i = 0; i < mia_model_arch_count(); i++) {
        int64_t n = -1;
        if (mia_model_arch_param_count(&n, mia_model_arch_name(i), NULL) != MIA_OK)
            return tool_fail(MIA_ERR_INVALID, "parameter count");
        printf("%-24s %12lld  %s\n", mia_model_arch_name(i), (long long)n,
               mia_model_arch_description(i));
    }
    return TOOL_EXIT_OK;
}

/* Load SPEC, optionally reduced to a stratified subset. */
static mia_status load_data(mia_dataset **out, const char *spec, const args *a, bool subset)
{
    mia_dataset *d = NULL;
    *out = NULL;
    mia_status s = mia_dataset_load(&d, spec, NULL);
    if (s != MIA_OK || !subset || a->subset <= 0) {
        *out = d;
        return s;
    }
    int64_t n = mia_dataset_n(d);
    int32_t *lab = malloc(sizeof *lab * (size_t)n);
    int64_t *idx = malloc(sizeof *idx * (size_t)a->subset);
    if (!lab || !idx) {
        free(lab);
        free(idx);
        mia_dataset_free(d);
        return MIA_ERR_NOMEM;
    }
    for (int64_t i = 0; i < n; i++) lab[i] = mia_dataset_label(d, i);
    s = mia_split_stratified(idx, a->subset, lab, n, (uint64_t)a->subset_seed);
    if (s == MIA_OK && a->save_idx) s = mia_indices_save_csv(a->save_idx, idx, a->subset);
    if (s == MIA_OK) s = mia_dataset_subset(out, d, idx, a->subset);
    free(lab);
    free(idx);
    mia_dataset_free(d);
    return s;
}

/* Per-sample scores of d as a score file (scores.h). */
static int write_scores(const char *path, const mia_dataset *d, const float *v, int64_t k,
                        bool logits)
{
    int64_t n = mia_dataset_n(d);
    int32_t *lab = malloc(sizeof *lab * (size_t)n);
    if (!lab) {
        fprintf(stderr, "mia-train: out of memory\n");
        return TOOL_EXIT_NOMEM;
    }
    for (int64_t i = 0; i < n; i++) lab[i] = mia_dataset_label(d, i);
    mia_score_set ss = {v, lab, n, k};
    mia_status s = mia_score_file_write(path, &ss, logits ? MIA_INPUT_LOGITS : MIA_INPUT_PROBS);
    free(lab);
    return s == MIA_OK ? TOOL_EXIT_OK : tool_fail(s, path);
}

static void print_eval(const char *what, const mia_eval_result *e)
{
    printf("%s: n=%lld accuracy=%.4f loss=%.4f ece=%.4f oe=%.4f\n", what, (long long)e->n,
           e->accuracy, e->loss, e->ece, e->oe);
}

static bool print_epoch(const mia_epoch_stats *s, void *ud)
{
    (void)ud;
    tool_progress_done();
    char val[64] = ""; /* NaN: no validation set */
    if (!isnan(s->val_accuracy))
        snprintf(val, sizeof val, " Validation Acc=%.4f loss=%.4f", s->val_accuracy, s->val_loss);
    fprintf(stderr, "Epoch %lld: Training Acc=%.4f loss=%.4f%s (%.1f s)\n", (long long)s->epoch,
            s->train_accuracy, s->train_loss, val, s->seconds);
    return !tool_interrupted();
}

static int cmd_train(const args *a, mia_backend *be)
{
    if (!a->arch) return tool_usage_error("train: --arch is required (see --list-archs)");
    if (!a->data) return tool_usage_error("train: --data is required");
    if (!a->out) return tool_usage_error("train: -o FILE is required");
    mia_dataset *d = NULL, *val = NULL;
    mia_model *m = NULL;
    mia_status s = load_data(&d, a->data, a, true);
    if (s == MIA_OK && a->val) s = mia_dataset_load(&val, a->val, NULL);
    if (s != MIA_OK) goto fail;
    mia_model_opts mo;
    mia_model_opts_init(&mo);
    mo.n_classes = (int32_t)(a->classes > 0 ? a->classes : mia_dataset_n_classes(d));
    mo.in_channels = (int32_t)mia_dataset_channels(d);
    mo.in_h = (int32_t)mia_dataset_height(d);
    mo.in_w = (int32_t)mia_dataset_width(d);
    mo.seed = (uint64_t)a->seed;
    s = mia_model_create(&m, be, a->arch, &mo);
    if (s != MIA_OK) goto fail;
    mia_train_opts o;
    mia_train_opts_init(&o);
    mia_train_opts_paper(&o, a->arch);
    if (a->optimizer) {
        if (strcmp(a->optimizer, "adam") == 0) o.optimizer = MIA_OPTIM_ADAM;
        else if (strcmp(a->optimizer, "sgd") == 0) o.optimizer = MIA_OPTIM_SGD;
        else return tool_usage_error("--optimizer: '%s' is not adam or sgd", a->optimizer);
    }
    if (a->schedule) {
        if (strcmp(a->schedule, "none") == 0) o.schedule = MIA_SCHEDULE_NONE;
        else if (strcmp(a->schedule, "step") == 0) o.schedule = MIA_SCHEDULE_STEP;
        else if (strcmp(a->schedule, "cosine") == 0) o.schedule = MIA_SCHEDULE_COSINE;
        else return tool_usage_error("--schedule: '%s' is not none, step or cosine", a->schedule);
    }
    if (a->have_lr) o.lr = a->lr;
    if (a->have_epochs) o.epochs = a->epochs;
    if (a->have_bs) o.batch_size = a->batch_size;
    if (a->have_mom) o.momentum = a->momentum;
    o.nesterov = a->nesterov;
    o.weight_decay = a->wd;
    o.label_smoothing = a->ls;
    if (a->step_size > 0) o.step_size = a->step_size;
    if (a->gamma > 0) o.gamma = a->gamma;
    o.seed = (uint64_t)a->seed;
    o.val = val;
    o.eval_batch_size = a->eval_batch;
    o.checkpoint_dir = a->ckdir;
    o.checkpoint_every = a->ckevery;
    o.resume = a->resume;
    o.progress = tool_progress;
    o.on_epoch = print_epoch;
    mia_train_result r;
    s = mia_train(m, d, &o, &r);
    tool_progress_done();
    if (r.resumed_step >= 0) fprintf(stderr, "mia-train: resumed from %s\n", r.resumed_from);
    if (s != MIA_OK) goto fail;
    s = mia_model_save(m, a->out);
    if (s != MIA_OK) goto fail;
    char vacc[32] = "";
    if (!isnan(r.last.val_accuracy))
        snprintf(vacc, sizeof vacc, ", val acc %.4f", r.last.val_accuracy);
    printf("trained %s: %lld epochs, %lld steps; last epoch train acc %.4f%s; "
           "weights written to %s\n", a->arch, (long long)r.epochs_done, (long long)r.steps_done,
           r.last.train_accuracy, vacc, a->out);
    mia_model_free(m);
    mia_dataset_free(d);
    mia_dataset_free(val);
    return TOOL_EXIT_OK;
fail:;
    int rc = tool_fail(s, "train");
    mia_model_free(m);
    mia_dataset_free(d);
    mia_dataset_free(val);
    return rc;
}

static int cmd_eval_predict(const args *a, mia_backend *be, bool eval)
{
    if (!a->model) return tool_usage_error("%s: --model is required", a->cmd);
    if (!a->data) return tool_usage_error("%s: --data is required", a->cmd);
    if (!eval && !a->out) return tool_usage_error("predict: -o FILE is required");
    mia_model *m = NULL;
    mia_dataset *d = NULL;
    float *v = NULL;
    mia_status s = mia_model_load(&m, be, a->model);
    if (s == MIA_OK) s = load_data(&d, a->data, a, true);
    if (s != MIA_OK) goto fail;
    mia_eval_opts eo;
    mia_eval_opts_init(&eo);
    eo.batch_size = a->eval_batch;
    eo.progress = tool_progress;
    if (eval) {
        mia_eval_result e;
        s = mia_evaluate(m, d, &eo, &e);
        tool_progress_done();
        if (s != MIA_OK) goto fail;
        print_eval(a->data, &e);
    } else {
        int64_t k = mia_model_n_classes(m);
        v = malloc(sizeof *v * (size_t)(mia_dataset_n(d) * k));
        if (!v) {
            s = MIA_ERR_NOMEM;
            goto fail;
        }
        s = mia_model_predict_dataset(m, d, a->logits ? MIA_PREDICT_LOGITS : MIA_PREDICT_SOFTMAX,
                                      &eo, v);
        tool_progress_done();
        if (s != MIA_OK) goto fail;
        int rc = write_scores(a->out, d, v, k, a->logits);
        free(v);
        mia_model_free(m);
        mia_dataset_free(d);
        return rc;
    }
    mia_model_free(m);
    mia_dataset_free(d);
    return TOOL_EXIT_OK;
fail:;
    int rc = tool_fail(s, a->cmd);
    free(v);
    mia_model_free(m);
    mia_dataset_free(d);
    return rc;
}

static int cmd_calibrate(const args *a, mia_backend *be)
{
    if (!a->model) return tool_usage_error("calibrate: --model is required");
    if (!a->method) return tool_usage_error("calibrate: --method temperature|llla is required");
    bool llla = strcmp(a->method, "llla") == 0;
    if (!llla && strcmp(a->method, "temperature") != 0)
        return tool_usage_error("--method: '%s' is not temperature or llla", a->method);
    if (!llla && !(a->T > 0) && !a->data)
        return tool_usage_error("calibrate: temperature needs --T or held-out --data");
    if (llla && !a->fit) return tool_usage_error("calibrate: llla needs --fit SPEC");
    if (llla && !(a->var0 > 0) && !a->data)
        return tool_usage_error("calibrate: llla needs --data SPEC (search) or --var0");
    mia_model *m = NULL;
    mia_dataset *d = NULL, *fit = NULL, *ood = NULL, *test = NULL;
    mia_calibrated *c = NULL;
    float *v = NULL;
    mia_eval_opts eo;
    mia_eval_opts_init(&eo);
    eo.batch_size = a->eval_batch;
    mia_status s = mia_model_load(&m, be, a->model);
    if (s == MIA_OK && a->data) s = load_data(&d, a->data, a, true);
    if (s == MIA_OK && a->fit) s = mia_dataset_load(&fit, a->fit, NULL);
    if (s == MIA_OK && a->ood) s = mia_dataset_load(&ood, a->ood, NULL);
    if (s == MIA_OK && a->test) s = mia_dataset_load(&test, a->test, NULL);
    if (s != MIA_OK) goto done;
    if (!llla) {
        s = a->T > 0 ? mia_calibrated_temperature(&c, m, a->T)
                     : mia_calibrated_fit_temperature(&c, m, d, &eo);
        if (s == MIA_OK) printf("temperature: T=%.9g\n", mia_calibrated_T(c));
    } else {
        mia_llla_opts lo;
        mia_llla_opts_init(&lo);
        lo.fit = fit;
        lo.val = d;
        lo.ood = ood;
        lo.var0 = a->var0;
        lo.seed = (uint64_t)a->seed;
        lo.paper_exact = a->paper_exact;
        lo.batch_size = a->eval_batch;
        if (a->samples > 0) lo.n_samples = (int)a->samples;
        lo.progress = tool_progress;
        s = mia_calibrated_llla(&c, m, &lo);
        tool_progress_done();
        if (s == MIA_OK) printf("llla: var0=%.9g\n", mia_calibrated_var0(c));
    }
    if (s == MIA_OK && test) {
        mia_eval_result e;
        s = mia_calibrated_evaluate(c, test, &eo, &e);
        if (s == MIA_OK) print_eval(a->test, &e);
        if (s == MIA_OK && a->out) {
            int64_t k = mia_model_n_classes(m);
            v = malloc(sizeof *v * (size_t)(mia_dataset_n(test) * k));
            if (!v) s = MIA_ERR_NOMEM;
            if (s == MIA_OK) s = mia_calibrated_predict_dataset(c, test, &eo, v);
            if (s == MIA_OK && write_scores(a->out, test, v, k, false) != TOOL_EXIT_OK) s = MIA_ERR_IO;
        }
    }
done:;
    int rc = s == MIA_OK ? TOOL_EXIT_OK : tool_fail(s, "calibrate");
    free(v);
    mia_calibrated_free(c);
    mia_model_free(m);
    mia_dataset_free(d);
    mia_dataset_free(fit);
    mia_dataset_free(ood);
    mia_dataset_free(test);
    return rc;
}

int main(int argc, char **argv)
{
    tool_init("mia-train");
    args a;
    memset(&a, 0, sizeof a);
    a.backend = "auto";
    a.eval_batch = 128;
    int verbosity = 0, opt;
    if (argc >= 2 && argv[1][0] != '-') {
        a.cmd = argv[1];
        argv++;
        argc--;
    }
    while ((opt = getopt_long(argc, argv, "o:vqh", long_opts, NULL)) != -1) {
        int64_t i64;
        double f;
        switch (opt) {
        case O_ARCH: a.arch = optarg; break;
        case O_DATA: a.data = optarg; break;
        case O_VAL: a.val = optarg; break;
        case O_SAVE_IDX: a.save_idx = optarg; break;
        case O_OPT: a.optimizer = optarg; break;
        case O_SCHED: a.schedule = optarg; break;
        case O_CKDIR: a.ckdir = optarg; break;
        case O_MODEL: a.model = optarg; break;
        case O_METHOD: a.method = optarg; break;
        case O_FIT: a.fit = optarg; break;
        case O_OOD: a.ood = optarg; break;
        case O_TEST: a.test = optarg; break;
        case O_BACKEND: a.backend = optarg; break;
        case 'o': a.out = optarg; break;
        case O_RESUME: a.resume = true; break;
        case O_NEST: a.nesterov = true; break;
        case O_PAPER: a.paper_exact = true; break;
        case O_SCORES: a.logits = false; break;
        case O_LOGITS: a.logits = true; break;
#define I64(o, field, lo, hi)                                                                   \
    case o:                                                                                     \
        if (!tool_parse_i64("--" #field, optarg, lo, hi, &i64)) return TOOL_EXIT_USAGE;         \
        a.field = i64;                                                                          \
        break;
        I64(O_SUBSET, subset, 1, INT64_C(1) << 40)
        I64(O_SUBSET_SEED, subset_seed, 0, INT64_MAX)
        I64(O_CLASSES, classes, 1, 100000)
        I64(O_THREADS, threads, 1, 1024)
        I64(O_CKEVERY, ckevery, 0, INT64_MAX)
        I64(O_BATCH, eval_batch, 1, 1 << 20)
        I64(O_SAMPLES, samples, 1, 100000)
        I64(O_STEPSIZE, step_size, 1, 1 << 30)
        I64(O_SEED, seed, 0, INT64_MAX)
#undef I64
        case O_EPOCHS:
            if (!tool_parse_i64("--epochs", optarg, 1, 1 << 30, &a.epochs)) return 2;
            a.have_epochs = true;
            break;
        case O_BS:
            if (!tool_parse_i64("--batch-size", optarg, 1, 1 << 24, &a.batch_size)) return 2;
            a.have_bs = true;
            break;
        case O_LR:
            if (!tool_parse_f64("--lr", optarg, 1e-12, 1e3, &a.lr)) return 2;
            a.have_lr = true;
            break;
        case O_MOM:
            if (!tool_parse_f64("--momentum", optarg, 0, 10, &a.momentum)) return 2;
            a.have_mom = true;
            break;
        case O_WD:
            if (!tool_parse_f64("--weight-decay", optarg, 0, 1e3, &a.wd)) return 2;
            break;
        case O_LS:
            if (!tool_parse_f64("--label-smoothing", optarg, 0, 0.999999, &a.ls)) return 2;
            break;
        case O_GAMMA:
            if (!tool_parse_f64("--gamma", optarg, 1e-12, 1e3, &f)) return 2;
            a.gamma = f;
            break;
        case O_T:
            if (!tool_parse_f64("--T", optarg, 1e-6, 1e6, &a.T)) return 2;
            break;
        case O_VAR0:
            if (!tool_parse_f64("--var0", optarg, 1e-12, 1e12, &a.var0)) return 2;
            break;
        case 'v': verbosity++; break;
        case 'q': verbosity = -1; break;
        case O_LIST: return list_archs();
        case 'h':
        case O_HELP: fputs(usage_text, stdout); return TOOL_EXIT_OK;
        case O_VERSION: printf("mia-train (libmia) %s\n", mia_version_string()); return 0;
        default: return tool_usage_error("try 'mia-train --help'");
        }
    }
    if (optind < argc) return tool_usage_error("unexpected argument '%s'", argv[optind]);
    tool_set_verbosity(verbosity);
    if (!a.cmd) return tool_usage_error("a command is required (train, calibrate, eval, predict); "
                                        "see --help");
    if (strcmp(a.cmd, "train") && strcmp(a.cmd, "calibrate") && strcmp(a.cmd, "eval") &&
        strcmp(a.cmd, "predict"))
        return tool_usage_error("unknown command '%s' (train, calibrate, eval, predict)", a.cmd);
    mia_backend_opts bo;
    mia_backend_opts_init(&bo);
    if (a.threads > 0) bo.n_threads = (int)a.threads;
    mia_backend *be = NULL;
    mia_status s = mia_backend_create(&be, a.backend, &bo);
    if (s != MIA_OK) return tool_fail(s, "backend");
    int rc;
    if (strcmp(a.cmd, "train") == 0) rc = cmd_train(&a, be);
    else if (strcmp(a.cmd, "calibrate") == 0) rc = cmd_calibrate(&a, be);
    else rc = cmd_eval_predict(&a, be, strcmp(a.cmd, "eval") == 0);
    mia_backend_free(be);
    return rc;
}
