/* Slow-suite variant of test-gen.c: full-size StyleGAN2 configurations, longer GAN. */
#define MIA_GEN_SLOW 1
#include "test-gen.c"
