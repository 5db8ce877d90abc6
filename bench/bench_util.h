/*
 * bench_util.h: what the benchmark programs share, as static functions so
 * each program stays one translation unit (natively and under emcc): error
 * exits, a monotonic clock, medians, the seeded splitmix64 generator (the JS
 * peers in bench/peers/prng.mjs reproduce it bit for bit), and the result
 * records each program prints as a table and writes as JSON
 * ({"workload", "impl", "metric", "value", "unit"}).
 *
 * A program defines BENCH_NAME (used in error messages) before including it.
 */
#ifndef WEFT_BENCH_UTIL_H
#define WEFT_BENCH_UTIL_H

#include "weft/weft.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef BENCH_NAME
#error "define BENCH_NAME before including bench_util.h"
#endif

static inline void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, BENCH_NAME ": ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static inline void check(int rc, const char *what) {
    if (rc) die("%s: %s (%d)", what, weft_strerror(rc), rc);
}

static inline void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory (%zu bytes)", n);
    return p;
}

static inline double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v in place. */
static inline double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* splitmix64: tiny, seedable, the same sequence on every platform. */
static uint64_t rng_state;
static inline uint64_t rng_next(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
/* Uniform in [0, n): the high 32 bits scaled, no modulo bias worth naming. */
static inline uint32_t rng_below(uint32_t n) {
    return (uint32_t)((rng_next() >> 32) * n >> 32);
}

/* ---- a counting allocator: live and peak bytes requested ---- */

typedef struct counter {
    size_t live, peak;
} counter;

/* Each block carries its size in a 16-byte header (keeps malloc alignment). */
#define HDR 16

static inline void *count_realloc(void *ud, void *ptr, size_t size) {
    counter *c = ud;
    size_t old = 0;
    uint8_t *base = NULL;
    if (ptr) {
        base = (uint8_t *)ptr - HDR;
        memcpy(&old, base, sizeof old);
    }
    if (size == 0) {
        if (ptr) {
            c->live -= old;
            free(base);
        }
        return NULL;
    }
    uint8_t *nb = realloc(base, size + HDR);
    if (!nb) return NULL;
    memcpy(nb, &size, sizeof size);
    c->live = c->live - old + size;
    if (c->live > c->peak) c->peak = c->live;
    return nb + HDR;
}

/* ---- results ---- */

typedef struct bench_result {
    const char *workload, *metric, *unit;
    double value;
} bench_result;

static bench_result results[96];
static int n_results;

/* Strings must outlive the program's output (literals or static buffers). */
static inline void add(const char *workload, const char *metric, double value, const char *unit) {
    if (n_results == (int)(sizeof results / sizeof *results)) die("too many results");
    results[n_results++] = (bench_result){workload, metric, unit, value};
}

static inline void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

static inline void write_json(const char *path, const char *impl) {
    FILE *f = fopen(path, "w");
    if (!f) die("cannot write %s", path);
    fprintf(f, "[\n");
    for (int i = 0; i < n_results; i++) {
        const bench_result *r = &results[i];
        fprintf(f, "  {\"workload\": ");
        json_str(f, r->workload);
        fprintf(f, ", \"impl\": ");
        json_str(f, impl);
        fprintf(f, ", \"metric\": ");
        json_str(f, r->metric);
        /* %.17g round-trips; integers print without a fraction. */
        fprintf(f, ", \"value\": %.17g, \"unit\": ", r->value);
        json_str(f, r->unit);
        fprintf(f, "}%s\n", i + 1 < n_results ? "," : "");
    }
    fprintf(f, "]\n");
    if (fclose(f)) die("cannot write %s", path);
}

static inline void fmt_value(char *buf, size_t cap, double v, const char *unit) {
    if (strcmp(unit, "ops/s") == 0) {
        if (v >= 1e6)
            snprintf(buf, cap, "%.2f M", v / 1e6);
        else
            snprintf(buf, cap, "%.1f k", v / 1e3);
    } else if (strcmp(unit, "ms") == 0) {
        snprintf(buf, cap, "%.2f", v);
    } else if (strcmp(unit, "MB/s") == 0 || strcmp(unit, "B/doc") == 0 ||
               strcmp(unit, "B/op") == 0) {
        snprintf(buf, cap, "%.1f", v);
    } else {
        snprintf(buf, cap, "%.0f", v);
    }
}

static inline void print_table(const char *impl) {
    printf("\n%-52s  %-34s  %12s  %s\n", "workload", "metric", "value", "unit");
    printf("%-52s  %-34s  %12s  %s\n", "--------", "------", "-----", "----");
    for (int i = 0; i < n_results; i++) {
        char v[64];
        fmt_value(v, sizeof v, results[i].value, results[i].unit);
        printf("%-52s  %-34s  %12s  %s\n", results[i].workload, results[i].metric, v,
               results[i].unit);
    }
    printf("(%s; medians of in-process runs)\n", impl);
}

/* 1000000 -> "1M", 100000 -> "100k", 1500 -> "1500" (static buffers, 4 in turn). */
static inline const char *human(size_t n) {
    static char bufs[4][24];
    static int next;
    char *b = bufs[next++ & 3];
    if (n >= 1000000 && n % 1000000 == 0)
        snprintf(b, 24, "%zuM", n / 1000000);
    else if (n >= 1000 && n % 1000 == 0)
        snprintf(b, 24, "%zuk", n / 1000);
    else
        snprintf(b, 24, "%zu", n);
    return b;
}

#endif
