/* The cores' limits, one kernel at a time, on several threads at once (bench/peak.py).
 *
 *   peak_kernel KERNEL SECONDS THREADS
 *
 * Each thread runs KERNEL in chunks until its own CPU time reaches SECONDS, then the
 * program prints one line per thread: "<operations> <thread CPU seconds> <wall seconds>".
 * An operation is one dependent integer add (KERNEL clock: one per cycle, so operations
 * per CPU second is the clock the core ran at) or one multiply-accumulate (the others).
 * The vector kernels keep their operands in registers and update 12 independent
 * accumulators, enough to cover the latency of the multiply-add on both multiply pipes
 * (AVX2 int8: 4, as only its vpaddd waits on the accumulator).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define CHUNK 4096 /* iterations between looks at the clock */

typedef double (*kernel_fn)(long iterations, int seed); /* returns operations done */

static double seconds(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static volatile long sink; /* keeps every result alive */

/* 100 adds per iteration, each waiting for the one before it */
static double clock_adds(long iterations, int seed)
{
    long x = seed, y = seed | 1;
    for (long n = 0; n < iterations; n++) {
#if defined(__x86_64__)
        __asm__ volatile(".rept 100\n\tadd %1, %0\n\t.endr" : "+r"(x) : "r"(y));
#elif defined(__aarch64__)
        __asm__ volatile(".rept 100\n\tadd %0, %0, %1\n\t.endr" : "+r"(x) : "r"(y));
#else
#error "no clock loop for this architecture"
#endif
    }
    sink = x;
    return 100.0 * iterations;
}

#if defined(__x86_64__)
/* ACC accumulators, each updated by one STEP per iteration; SUM folds them into acc[0],
 * whose FIRST lane goes to sink.
 * The empty asm makes the operands B[0..1] (all b) and C[0..1] (all c) look new and
 * different in every iteration, so the compiler can neither hoist a product out of the
 * loop nor share one between accumulators. */
#define VECTOR_KERNEL(name, isa, type, ACC, init, b, c, step, macs, sum, first)                \
    __attribute__((target(isa))) static double name(long iterations, int seed)          \
    {                                                                                   \
        type acc[ACC], B[2] = {b, b}, C[2] = {c, c};                                    \
        for (int k = 0; k < ACC; k++)                                                   \
            acc[k] = init;                                                              \
        for (long n = 0; n < iterations; n++) {                                         \
            __asm__("" : "+x"(B[0]), "+x"(B[1]), "+x"(C[0]), "+x"(C[1]));               \
            _Pragma("GCC unroll 12") for (int k = 0; k < ACC; k++) acc[k] = step;        \
        }                                                                               \
        for (int k = 1; k < ACC; k++)                                                   \
            acc[0] = sum;                                                               \
        sink = (long)(first);                                                           \
        return (double)(macs) * ACC * iterations;                                       \
    }

/* vpdpbusd ymm in its VEX form, written out: gcc 12 moves the accumulators of
 * _mm256_dpbusd_avx_epi32 through memory inside the loop */
__attribute__((target("avx2,avxvnni"))) static inline __m256i dpbusd_vex(__m256i acc, __m256i b,
                                                                        __m256i c)
{
    __asm__("%{vex%} vpdpbusd %2, %1, %0" : "+x"(acc) : "x"(b), "x"(c));
    return acc;
}

/* fp32: one fused multiply-add per lane */
VECTOR_KERNEL(fp32_avx512, "avx512f", __m512, 12, _mm512_set1_ps((float)(k + seed)),
              _mm512_set1_ps(0.999f), _mm512_set1_ps(1e-3f), _mm512_fmadd_ps(acc[k], B[0], C[0]),
              16, _mm512_add_ps(acc[0], acc[k]), _mm512_cvtss_f32(acc[0]))
VECTOR_KERNEL(fp32_fma, "avx2,fma", __m256, 12, _mm256_set1_ps((float)(k + seed)),
              _mm256_set1_ps(0.999f), _mm256_set1_ps(1e-3f), _mm256_fmadd_ps(acc[k], B[0], C[0]),
              8, _mm256_add_ps(acc[0], acc[k]), _mm256_cvtss_f32(acc[0]))
/* int8: uint8 x int8 products summed in fours into int32 lanes (vpdpbusd) */
VECTOR_KERNEL(int8_avx512_vnni, "avx512f,avx512vnni", __m512i, 12, _mm512_set1_epi32(k),
              _mm512_set1_epi8(3), _mm512_set1_epi8((char)seed),
              _mm512_dpbusd_epi32(acc[k], B[0], C[0]), 64, _mm512_add_epi32(acc[0], acc[k]), _mm512_cvtsi512_si32(acc[0]))
VECTOR_KERNEL(int8_avx_vnni, "avx2,avxvnni", __m256i, 12, _mm256_set1_epi32(k),
              _mm256_set1_epi8(3), _mm256_set1_epi8((char)seed),
              dpbusd_vex(acc[k], B[0], C[0]), 32, _mm256_add_epi32(acc[0], acc[k]), _mm256_cvtsi256_si32(acc[0]))
/* int8 without VNNI: vpmaddubsw (pairs into int16), vpmaddwd by ones (into int32), vpaddd */
VECTOR_KERNEL(int8_avx2, "avx2", __m256i, 4, _mm256_set1_epi32(k),
              _mm256_set1_epi8(3), _mm256_set1_epi8((char)seed),
              _mm256_add_epi32(acc[k], _mm256_madd_epi16(_mm256_maddubs_epi16(B[k & 1], C[k >> 1]),
                                                         _mm256_set1_epi16(1))),
              32, _mm256_add_epi32(acc[0], acc[k]), _mm256_cvtsi256_si32(acc[0]))
#endif

static const struct {
    const char *name;
    kernel_fn fn;
} KERNELS[] = {
    {"clock", clock_adds},
#if defined(__x86_64__)
    {"fp32_avx512", fp32_avx512},
    {"fp32_fma", fp32_fma},
    {"int8_avx512_vnni", int8_avx512_vnni},
    {"int8_avx_vnni", int8_avx_vnni},
    {"int8_avx2", int8_avx2},
#endif
};

static kernel_fn kernel;
static double budget;
static pthread_barrier_t start;

typedef struct {
    double operations, cpu, wall;
    int seed;
} result_t;

static void *run(void *arg)
{
    result_t *r = arg;
    pthread_barrier_wait(&start);
    double cpu0 = seconds(CLOCK_THREAD_CPUTIME_ID), wall0 = seconds(CLOCK_MONOTONIC);
    do
        r->operations += kernel(CHUNK, r->seed);
    while (seconds(CLOCK_THREAD_CPUTIME_ID) - cpu0 < budget);
    r->cpu = seconds(CLOCK_THREAD_CPUTIME_ID) - cpu0;
    r->wall = seconds(CLOCK_MONOTONIC) - wall0;
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc == 4 ? atoi(argv[3]) : 0;
    for (size_t i = 0; argc == 4 && i < sizeof KERNELS / sizeof KERNELS[0]; i++)
        if (!strcmp(argv[1], KERNELS[i].name))
            kernel = KERNELS[i].fn;
    budget = argc == 4 ? atof(argv[2]) : 0;
    if (!kernel || budget <= 0 || threads < 1 || threads > 1024) {
        fprintf(stderr, "usage: %s KERNEL SECONDS THREADS (KERNEL:", argv[0]);
        for (size_t i = 0; i < sizeof KERNELS / sizeof KERNELS[0]; i++)
            fprintf(stderr, " %s", KERNELS[i].name);
        fprintf(stderr, ")\n");
        return 2;
    }
    pthread_t *ids = calloc(threads, sizeof *ids);
    result_t *results = calloc(threads, sizeof *results);
    pthread_barrier_init(&start, NULL, threads);
    for (int i = 0; i < threads; i++) {
        results[i].seed = i + 2;
        pthread_create(&ids[i], NULL, run, &results[i]);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(ids[i], NULL);
        printf("%.0f %.6f %.6f\n", results[i].operations, results[i].cpu, results[i].wall);
    }
    return 0;
}
