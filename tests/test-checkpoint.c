/* Checkpoints: resume is bit-identical to an uninterrupted run, mismatched config / data are
 * refused, an injected EIO and an `ulimit -f` cut during a write keep the previous checkpoint
 * loadable with no temporary file left, a NaN gradient stops with MIA_ERR_NUMERIC naming the
 * step and tensor. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "test-train-common.h"
#include "io/io.h"
#include "train/train-internal.h"

static void base_opts(mia_train_opts *o, const char *ckdir)
{
    mia_train_opts_init(o);
    o->lr = 0.01;
    o->batch_size = 16;
    o->epochs = 3;
    o->seed = 7;
    o->checkpoint_dir = ckdir;
    o->checkpoint_every = 3;
    o->resume = ckdir != NULL;
}

static int count_files(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) n += strstr(e->d_name, needle) != NULL;
    closedir(d);
    return n;
}

static int64_t cancel_step;
static bool cancel_cb(const mia_progress *p, void *ud)
{
    (void)ud;
    static int64_t seen;
    if (p->epoch == 1 && p->step == 1) seen = 0;
    seen++;
    return !(cancel_step > 0 && p->epoch * 100 + p->step == cancel_step);
}

static void test_checkpoint__resume_bit_identical(void **state)
{
    (void)state;
    char *dir = tt_tmpdir();
    char ck[600];
    snprintf(ck, sizeof ck, "%s/ck", dir);
    mia_backend *be;
    assert_int_equal(mia_backend_create(&be, "auto", NULL), MIA_OK);
    mia_dataset *d = tt_synth(dir, "d", 100, 4, 4); /* 7 steps per epoch, last partial */
    /* reference: no checkpoints */
    mia_model *m = tt_mlp(be, 8, 4, 1);
    mia_train_opts o;
    base_opts(&o, NULL);
    mia_train_result r;
    assert_int_equal(mia_train(m, d, &o, &r), MIA_OK);
    size_t lr_, l2;
    unsigned char *ref = tt_snapshot(m, &lr_);
    mia_model_free(m);
    /* interrupted twice (mid-epoch 1 at step 5, mid-epoch 2 at step 2), resumed each time */
    int64_t cuts[2] = {105, 202};
    for (int i = 0; i < 2; i++) {
        m = tt_mlp(be, 8, 4, 1);
        base_opts(&o, ck);
        cancel_step = cuts[i];
        o.progress = cancel_cb;
        ASSERT_ERR(mia_train(m, d, &o, &r), MIA_ERR_CANCELLED, "checkpoint written");
        mia_model_free(m);
    }
    m = tt_mlp(be, 8, 4, 99); /* other init: everything must come from the checkpoint */
    base_opts(&o, ck);
    assert_int_equal(mia_train(m, d, &o, &r), MIA_OK);
    assert_int_equal(r.resumed_step, 7 + 2);
    assert_non_null(strstr(r.resumed_from, "ckpt-000000000009"));
    unsigned char *got = tt_snapshot(m, &l2);
    assert_int_equal(lr_, l2);
    assert_memory_equal(ref, got, lr_);
    assert_true(count_files(ck, ".safetensors") == 2); /* the last two are kept */
    assert_int_equal(count_files(ck, ".tmp"), 0);
    /* resuming a finished run does nothing and keeps the weights */
    assert_int_equal(mia_train(m, d, &o, &r), MIA_OK);
    assert_int_equal(r.resumed_step, 21);
    /* a changed configuration or dataset is refused */
    o.lr = 0.02;
    ASSERT_ERR(mia_train(m, d, &o, &r), MIA_ERR_MISMATCH, "another training configuration");
    base_opts(&o, ck);
    mia_dataset *d2 = tt_synth(dir, "d2", 100, 4, 5);
    ASSERT_ERR(mia_train(m, d2, &o, &r), MIA_ERR_MISMATCH, "another training dataset");
    mia_dataset_free(d2);
    free(ref);
    free(got);
    mia_model_free(m);
    mia_dataset_free(d);
    mia_backend_free(be);
    tt_rmrf(dir);
    free(dir);
}

static bool arm_eio(const mia_progress *p, void *ud)
{
    /* after step 4 of epoch 1: the checkpoint of step 6 will hit the fault */
    if (p->epoch == 1 && p->step == 4) mia__io_fail_after(*(int *)ud, EIO);
    return true;
}

static bool stop_after_epoch(const mia_epoch_stats *s, void *ud)
{
    (void)s;
    (void)ud;
    return false;
}

static void test_checkpoint__eio_and_file_size_limit_keep_previous(void **state)
{
    (void)state;
    char *dir = tt_tmpdir();
    char ck[600];
    snprintf(ck, sizeof ck, "%s/ck", dir);
    mia_backend *be;
    assert_int_equal(mia_backend_create(&be, "ref", NULL), MIA_OK);
    mia_dataset *d = tt_synth(dir, "d", 100, 4, 4);
    mia_train_opts o;
    mia_train_result r;
    for (int k = 1; k <= 3; k++) { /* the save's write, fsync, rename fail in turn (the 4th op,
                                    * fsync of the directory, comes after the rename) */
        tt_rmrf(ck);
        mia_model *m = tt_mlp(be, 8, 4, 1);
        base_opts(&o, ck);
        o.progress = arm_eio;
        o.progress_user_data = &k;
        mia_status s = mia_train(m, d, &o, &r);
        mia__io_fail_after(0, 0);
        assert_int_equal(s, MIA_ERR_IO);
        assert_non_null(strstr(mia_last_error(), "ckpt-000000000006"));
        assert_int_equal(count_files(ck, ".tmp"), 0);
        assert_int_equal(count_files(ck, ".safetensors"), 1);
        mia_model_free(m);
        /* the previous checkpoint (step 3) loads */
        m = tt_mlp(be, 8, 4, 1);
        base_opts(&o, ck);
        o.epochs = 3;
        assert_int_equal(mia_train(m, d, &o, &r), MIA_OK);
        assert_int_equal(r.resumed_step, 3);
        mia_model_free(m);
    }
    /* ulimit -f: a child writes the first checkpoint, then cannot write the next one */
    tt_rmrf(ck);
    pid_t pid = fork();
    if (pid == 0) {
        mia_model *m = tt_mlp(be, 8, 4, 1);
        base_opts(&o, ck);
        o.checkpoint_every = 0;
        o.on_epoch = stop_after_epoch;
        if (mia_train(m, d, &o, &r) != MIA_ERR_CANCELLED) _exit(10);
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {600, 600}; /* bytes: cuts the next checkpoint */
        setrlimit(RLIMIT_FSIZE, &rl);
        base_opts(&o, ck);
        o.checkpoint_every = 0;
        mia_status s = mia_train(m, d, &o, &r);
        if (s != MIA_ERR_IO || !strstr(mia_last_error(), "ckpt-000000000014")) {
            fprintf(stderr, "child: %d %s\n", (int)s, mia_last_error());
            _exit(11);
        }
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_int_equal(count_files(ck, ".tmp"), 0);
    assert_int_equal(count_files(ck, ".safetensors"), 1);
    mia_model *m = tt_mlp(be, 8, 4, 1);
    base_opts(&o, ck);
    o.checkpoint_every = 0;
    assert_int_equal(mia_train(m, d, &o, &r), MIA_OK);
    assert_int_equal(r.resumed_step, 7);
    mia_model_free(m);
    mia_dataset_free(d);
    mia_backend_free(be);
    tt_rmrf(dir);
    free(dir);
}

static void test_checkpoint__nan_gradient_stops_naming_step(void **state)
{
    (void)state;
    char *dir = tt_tmpdir();
    char ck[600];
    snprintf(ck, sizeof ck, "%s/ck", dir);
    mia_backend *be;
    assert_int_equal(mia_backend_create(&be, "ref", NULL), MIA_OK);
    mia_dataset *d = tt_synth(dir, "d", 100, 4, 4);
    mia_model *m = tt_mlp(be, 8, 4, 1);
    mia_train_opts o;
    base_opts(&o, ck);
    mia_train_result r;
    mia__train_inject_nan(5);
    mia_status s = mia_train(m, d, &o, &r);
    mia__train_inject_nan(0);
    assert_int_equal(s, MIA_ERR_NUMERIC);
    assert_non_null(strstr(mia_last_error(), "step 5"));
    assert_non_null(strstr(mia_last_error(), "'0.weight'"));
    assert_int_equal(count_files(ck, ".safetensors"), 1); /* step 3 only */
    mia_model_free(m);
    m = tt_mlp(be, 8, 4, 1);
    assert_int_equal(mia_train(m, d, &o, &r), MIA_OK);
    assert_int_equal(r.resumed_step, 3);
    mia_model_free(m);
    mia_dataset_free(d);
    mia_backend_free(be);
    tt_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkpoint__resume_bit_identical),
        cmocka_unit_test(test_checkpoint__eio_and_file_size_limit_keep_previous),
        cmocka_unit_test(test_checkpoint__nan_gradient_stops_naming_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
