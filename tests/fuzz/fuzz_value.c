/*
 * fuzz_value: the value decoder (weft/value.h).
 *
 * Any input: weft_value_read and weft_value_check must not crash and must
 * agree (check accepts iff read accepts and consumes everything). An
 * accepted value is re-encoded from its decoded view with the public
 * writers only; canonical form means the bytes must come back identical.
 * Finally it goes through a replica (put, commit, get_field) and must come
 * out unchanged.
 */
#include "fuzz_common.h"

/* Re-encodes the value at src (already validated) into b with the public
 * writers; returns the bytes it consumed from src. */
static size_t reencode(fuzz_buf *b, const uint8_t *src, size_t src_len) {
    weft_value v;
    size_t used;
    FUZZ_ASSERT(weft_value_read(&v, &used, src, src_len) == 0);
    uint8_t head[16];
    size_t n = 0;
    switch (v.type) {
    case WEFT_TYPE_NULL:
        FUZZ_ASSERT(weft_value_write_null(head, sizeof head, &n) == 0);
        break;
    case WEFT_TYPE_FALSE:
    case WEFT_TYPE_TRUE:
        FUZZ_ASSERT(weft_value_write_bool(head, sizeof head, &n, v.type == WEFT_TYPE_TRUE) == 0);
        break;
    case WEFT_TYPE_INT:
        FUZZ_ASSERT(weft_value_write_int(head, sizeof head, &n, v.i) == 0);
        break;
    case WEFT_TYPE_FLOAT:
        FUZZ_ASSERT(weft_value_write_float(head, sizeof head, &n, v.f) == 0);
        break;
    case WEFT_TYPE_STRING:
    case WEFT_TYPE_BYTES: {
        size_t cap = v.len + 16;
        uint8_t *tmp = malloc(cap);
        FUZZ_ASSERT(tmp);
        int rc = v.type == WEFT_TYPE_STRING
                     ? weft_value_write_string(tmp, cap, &n, (const char *)v.ptr, v.len)
                     : weft_value_write_bytes(tmp, cap, &n, v.ptr, v.len);
        FUZZ_ASSERT(rc == 0);
        fuzz_buf_put(b, tmp, n);
        free(tmp);
        return used;
    }
    case WEFT_TYPE_ARRAY:
    case WEFT_TYPE_MAP: {
        int is_map = v.type == WEFT_TYPE_MAP;
        FUZZ_ASSERT((is_map ? weft_value_write_map : weft_value_write_array)(head, sizeof head, &n,
                                                                             v.count) == 0);
        fuzz_buf_put(b, head, n);
        const uint8_t *p = v.ptr, *end = v.ptr + v.len;
        for (uint64_t k = 0; k < v.count; k++) {
            if (is_map) {
                /* The key: a varint length and UTF-8 bytes, already validated. */
                uint64_t klen = 0;
                int shift = 0;
                while (*p & 0x80) {
                    klen |= (uint64_t)(*p++ & 0x7f) << shift;
                    shift += 7;
                }
                klen |= (uint64_t)*p++ << shift;
                FUZZ_ASSERT(klen <= (uint64_t)(end - p));
                size_t cap = (size_t)klen + 16;
                uint8_t *tmp = malloc(cap);
                FUZZ_ASSERT(tmp);
                FUZZ_ASSERT(weft_value_write_key(tmp, cap, &n, (const char *)p, (size_t)klen) == 0);
                fuzz_buf_put(b, tmp, n);
                free(tmp);
                p += klen;
            }
            p += reencode(b, p, (size_t)(end - p));
        }
        FUZZ_ASSERT(p == end);
        return used;
    }
    default:
        FUZZ_ASSERT(!"weft_value_read accepted an unknown type");
    }
    fuzz_buf_put(b, head, n);
    return used;
}

/* Stores the value in a fresh replica and reads it back. */
static void through_replica(const uint8_t *data, size_t size) {
    weft_replica *r = fuzz_replica(FUZZ_TARGET_AUTHOR);
    FUZZ_ASSERT(weft_replica_put(r, "c", 1, "d", 1, "f", 1, data, size) == 0);
    const uint8_t *rec, *v;
    size_t len, vlen;
    FUZZ_ASSERT(weft_replica_commit(r, FUZZ_WALL_MS, &rec, &len) == 0);
    FUZZ_ASSERT(weft_replica_get_field(r, "c", 1, "d", 1, "f", 1, &v, &vlen) == 0);
    FUZZ_ASSERT(vlen == size && memcmp(v, data, size) == 0);
    /* A second replica merging the record sees the same bytes. */
    weft_replica *r2 = fuzz_replica(FUZZ_PRELOAD_A);
    FUZZ_ASSERT(weft_replica_apply(r2, rec, len, NULL) == 0);
    FUZZ_ASSERT(weft_replica_get_field(r2, "c", 1, "d", 1, "f", 1, &v, &vlen) == 0);
    FUZZ_ASSERT(vlen == size && memcmp(v, data, size) == 0);
    weft_replica_free(r2);
    weft_replica_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    weft_value v;
    size_t used = 0;
    int rc = weft_value_read(&v, &used, data, size);
    int check = weft_value_check(data, size);
    if (rc) {
        FUZZ_ASSERT(rc < 0 && check == rc);
        return 0;
    }
    FUZZ_ASSERT(used >= 1 && used <= size);
    FUZZ_ASSERT(check == (used == size ? 0 : WEFT_EMALFORMED));

    fuzz_buf b = {0};
    FUZZ_ASSERT(reencode(&b, data, used) == used);
    FUZZ_ASSERT(b.len == used && memcmp(b.p, data, used) == 0);
    free(b.p);

    if (check == 0) through_replica(data, size);
    return 0;
}
