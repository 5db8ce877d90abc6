/*
 * GET /admin/spaces (admin.h): a top-N over the spaces in memory, chosen
 * with a bounded selection (at most ADMIN_TOP_MAX kept), so the answer and
 * its cost stay small however many spaces are open.
 */
#include "admin.h"

#include "space.h"

#include "hex.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int admin_allowed(const relay *r, const char *authorization) {
    const char *want = r->cfg.admin_token;
    if (!want || !*want || !authorization) return 0;
    if (strncmp(authorization, "Bearer ", 7) != 0) return 0;
    const char *got = authorization + 7;
    size_t n = strlen(want);
    return strlen(got) == n && sodium_memcmp(got, want, n) == 0;
}

typedef struct row {
    const space *sp;
    uint64_t key;
} row;

static uint64_t key_of(const space *sp, int by) {
    return by == 0 ? sp->n_sessions : by == 1 ? space_bytes_used(sp) : sp->head;
}

int admin_top_spaces(const relay *r, const char *by, size_t limit, char **json, size_t *len) {
    static const char *const names[] = {"conns", "bytes", "changes"};
    int b = -1;
    for (int i = 0; i < 3; i++)
        if (by && strcmp(by, names[i]) == 0) b = i;
    if (b < 0) return WEFT_EINVAL;
    if (limit == 0 || limit > ADMIN_TOP_MAX) limit = limit ? ADMIN_TOP_MAX : 10;
    row top[ADMIN_TOP_MAX];
    size_t n = 0;
    /* Keep the `limit` largest, sorted descending: insertion into a
     * short array (limit <= 100). */
    for (size_t i = 0; i < r->spaces.cap; i++) {
        const space *sp = r->spaces.slots[i].val;
        if (!sp) continue;
        uint64_t k = key_of(sp, b);
        if (n == limit && k <= top[n - 1].key) continue;
        size_t at = n < limit ? n++ : n - 1;
        while (at > 0 && top[at - 1].key < k) {
            top[at] = top[at - 1];
            at--;
        }
        top[at] = (row){sp, k};
    }
    size_t cap = 128 + n * 192;
    char *out = malloc(cap);
    if (!out) return WEFT_ENOMEM;
    size_t o = (size_t)snprintf(out, cap, "{\"by\":\"%s\",\"spaces_open\":%zu,\"spaces\":[",
                                names[b], weft__idtab_count(&r->spaces));
    for (size_t i = 0; i < n; i++) {
        char hex[WEFT__HEX_LEN(32)];
        weft__hex_encode(hex, sizeof hex, top[i].sp->id, 32);
        o += (size_t)snprintf(out + o, cap - o,
                              "%s{\"space\":\"%s\",\"connections\":%zu,\"bytes\":%llu,"
                              "\"changes\":%llu,\"level\":%u}",
                              i ? "," : "", hex, top[i].sp->n_sessions,
                              (unsigned long long)space_bytes_used(top[i].sp),
                              (unsigned long long)top[i].sp->head, top[i].sp->level);
    }
    o += (size_t)snprintf(out + o, cap - o, "]}\n");
    *json = out;
    *len = o;
    return 0;
}
