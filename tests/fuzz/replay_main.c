/*
 * The plain replay driver: links with one fuzz target in place of libFuzzer
 * and runs it once over every file named on the command line, descending
 * into directories (one level is all a corpus has; deeper ones are walked
 * too). This is how builds without libFuzzer (native, ASan, any compiler)
 * keep checking the seed corpus and the regression inputs, as SQLite's
 * fuzzcheck and zstd's regression driver do.
 *
 * Each input is copied into a buffer of exactly its size, so a target that
 * reads past the end trips ASan just as under libFuzzer. Files in a
 * directory run in name order, so a failure reproduces the same way. Exits
 * non-zero when a path cannot be read or when no input was found at all
 * (an empty corpus would otherwise pass silently); a target that breaks an
 * invariant aborts on its own.
 */
#define _POSIX_C_SOURCE 200809L

#include "fuzz_common.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

static size_t n_inputs;

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
        return 1;
    }
    fuzz_buf b = {0};
    uint8_t chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fuzz_buf_put(&b, chunk, n);
    int err = ferror(f);
    fclose(f);
    if (err) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        free(b.p);
        return 1;
    }
    /* Exactly sized (malloc(0) may return NULL, so never ask for 0). */
    uint8_t *input = malloc(b.len ? b.len : 1);
    FUZZ_ASSERT(input);
    if (b.len) memcpy(input, b.p, b.len);
    free(b.p);
    LLVMFuzzerTestOneInput(input, b.len);
    free(input);
    n_inputs++;
    return 0;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path);

static int run_dir(const char *path) {
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
        return 1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue; /* ".", "..", hidden files */
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            names = realloc(names, cap * sizeof *names);
            FUZZ_ASSERT(names);
        }
        size_t len = strlen(path) + 1 + strlen(e->d_name) + 1;
        names[n] = malloc(len);
        FUZZ_ASSERT(names[n]);
        snprintf(names[n], len, "%s/%s", path, e->d_name);
        n++;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_names);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        rc |= run_path(names[i]);
        free(names[i]);
    }
    free(names);
    return rc;
}

static int run_path(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return 1;
    }
    return S_ISDIR(st.st_mode) ? run_dir(path) : run_file(path);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    int rc = 0;
    for (int i = 1; i < argc; i++)
        rc |= run_path(argv[i]);
    if (!n_inputs) {
        fprintf(stderr, "replay: no inputs found\n");
        return 1;
    }
    printf("%s: %zu inputs replayed%s\n", argv[0], n_inputs, rc ? ", some paths failed" : "");
    return rc;
}
