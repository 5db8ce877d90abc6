/*
 * List fields (docs/LISTS.md): local edits, concurrent moves, deletes and
 * sets, an array turning into a list, snapshots, the format level, and
 * hostile changes (unknown items and origins, malformed ops).
 */
#include "../unit/check.h"

static uint8_t space[32], ka[32], kb[32], kc[32], kd[32];

static weft_replica *rep(const uint8_t *author) {
    weft_replica *r = new_replica(space, author);
    if (weft_replica_set_format_level(r, WEFT_LEVEL_LISTS)) abort();
    return r;
}

static int edit(weft_replica *r, weft_list_edit_kind kind, size_t index, size_t to, int64_t v) {
    uint8_t buf[16];
    size_t len;
    weft_value_write_int(buf, sizeof buf, &len, v);
    const uint8_t *rec;
    size_t rl;
    return weft_replica_list_edit(r, "todo", 4, "l", 1, "items", 5, kind, index, to, buf, len, 0, 1,
                                  &rec, &rl);
}
static int ins(weft_replica *r, size_t at, int64_t v) {
    return edit(r, WEFT_LIST_INSERT, at, 0, v);
}
static int mv(weft_replica *r, size_t from, size_t to) {
    return edit(r, WEFT_LIST_MOVE, from, to, 0);
}
static int del(weft_replica *r, size_t at) {
    return edit(r, WEFT_LIST_DELETE, at, 0, 0);
}

/* The list as "1,2,3" ("-" when the field is absent, "?" when not ints). */
static const char *show(weft_replica *r) {
    static char buf[512];
    const uint8_t *v;
    size_t len;
    if (weft_replica_get_field(r, "todo", 4, "l", 1, "items", 5, &v, &len)) return "-";
    weft_value a;
    if (weft_value_read(&a, NULL, v, len) || a.type != WEFT_TYPE_ARRAY) return "?";
    buf[0] = 0;
    const uint8_t *p = a.ptr;
    for (uint64_t k = 0; k < a.count; k++) {
        weft_value e;
        size_t used;
        if (weft_value_read(&e, &used, p, (size_t)(a.ptr + a.len - p)) || e.type != WEFT_TYPE_INT)
            return "?";
        p += used;
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), k ? ",%lld" : "%lld", (long long)e.i);
    }
    return buf;
}

static int both(weft_replica *a, weft_replica *b) {
    return sync_to(a, b) || sync_to(b, a);
}

static void local_edits(void) {
    weft_replica *a = rep(ka);
    CHECK_OK(ins(a, 0, 1));
    CHECK_OK(ins(a, 1, 3));
    CHECK_OK(ins(a, 1, 2));
    CHECK(strcmp(show(a), "1,2,3") == 0);
    CHECK_OK(mv(a, 0, 2));
    CHECK(strcmp(show(a), "2,3,1") == 0);
    CHECK_OK(mv(a, 2, 0));
    CHECK(strcmp(show(a), "1,2,3") == 0);
    CHECK_OK(mv(a, 1, 1)); /* nothing moves, nothing is written */
    CHECK_OK(edit(a, WEFT_LIST_SET, 1, 0, 20));
    CHECK_OK(del(a, 0));
    CHECK(strcmp(show(a), "20,3") == 0);
    size_t n;
    CHECK_OK(weft_replica_list_length(a, "todo", 4, "l", 1, "items", 5, &n));
    CHECK(n == 2);
    /* Indices past the end are refused and change nothing. */
    CHECK_RC(ins(a, 3, 9), WEFT_ENOITEM);
    CHECK_RC(del(a, 2), WEFT_ENOITEM);
    CHECK_RC(mv(a, 0, 2), WEFT_ENOITEM);
    CHECK_RC(mv(a, 5, 0), WEFT_ENOITEM);
    CHECK_RC(edit(a, WEFT_LIST_SET, 2, 0, 1), WEFT_ENOITEM);
    CHECK_RC(edit(a, (weft_list_edit_kind)9, 0, 0, 1), WEFT_EINVAL);
    CHECK(strcmp(show(a), "20,3") == 0);
    CHECK(weft_replica_txn_ops(a) == 0);
    /* Another replica reads the same. */
    weft_replica *b = rep(kb);
    CHECK_OK(sync_to(a, b));
    CHECK(strcmp(show(b), "20,3") == 0);
    CHECK(same_hash(a, b));
    weft_replica_free(a);
    weft_replica_free(b);
}

/* A space below the lists' level refuses list ops before anything
 * changes: its members may not read them (FORMAT.md §10). */
static void below_level(void) {
    weft_replica *a = new_replica(space, ka);
    CHECK_RC(ins(a, 0, 1), WEFT_EVERSION);
    CHECK(weft_replica_txn_ops(a) == 0);
    CHECK(strcmp(show(a), "-") == 0);
    CHECK_OK(weft_replica_set_format_level(a, 2));
    CHECK_RC(ins(a, 0, 1), WEFT_EVERSION);
    CHECK_OK(weft_replica_set_format_level(a, WEFT_LEVEL_LISTS));
    CHECK_OK(ins(a, 0, 1));
    weft_replica_free(a);
}

static void concurrent_moves(void) {
    weft_replica *a = rep(ka), *b = rep(kb), *c = rep(kc);
    for (int i = 0; i < 5; i++)
        CHECK_OK(ins(a, (size_t)i, i + 1));
    CHECK_OK(both(a, b));
    CHECK_OK(both(a, c));
    /* Three people move item 3 at once, to three places. */
    CHECK_OK(mv(a, 2, 0));
    CHECK_OK(mv(b, 2, 4));
    CHECK_OK(mv(c, 2, 1));
    CHECK(strcmp(show(a), "3,1,2,4,5") == 0);
    CHECK(strcmp(show(b), "1,2,4,5,3") == 0);
    CHECK_OK(both(a, b));
    CHECK_OK(both(b, c));
    CHECK_OK(both(a, c));
    CHECK(same_hash(a, b) && same_hash(b, c));
    /* One winner (the greatest id: equal clocks, so the greatest author
     * key, c's), the item once, nothing lost. */
    CHECK(strcmp(show(a), "1,3,2,4,5") == 0);
    /* Concurrent moves of different items both take effect. */
    CHECK_OK(mv(a, 0, 4));
    CHECK_OK(mv(b, 4, 0));
    CHECK_OK(both(a, b));
    CHECK(same_hash(a, b));
    CHECK(strcmp(show(a), "5,3,2,4,1") == 0);
    weft_replica_free(a);
    weft_replica_free(b);
    weft_replica_free(c);
}

static void move_delete_set(void) {
    weft_replica *a = rep(ka), *b = rep(kb);
    for (int i = 0; i < 3; i++)
        CHECK_OK(ins(a, (size_t)i, i + 1));
    CHECK_OK(both(a, b));
    /* A delete beats a concurrent move, whichever id is greater. */
    CHECK_OK(mv(a, 0, 2));
    CHECK_OK(del(b, 0));
    CHECK_OK(edit(b, WEFT_LIST_SET, 0, 0, 20)); /* set item 2 */
    CHECK_OK(edit(a, WEFT_LIST_SET, 0, 0, 21)); /* a sets item 2 too, at the same clock */
    CHECK_OK(both(a, b));
    CHECK(same_hash(a, b));
    CHECK(strcmp(show(a), "20,3") == 0); /* equal clocks: the greater author key, b's */
    /* A set of a deleted item does nothing; a concurrent insert stays. */
    CHECK_OK(edit(a, WEFT_LIST_SET, 1, 0, 30));
    CHECK_OK(del(b, 1));
    CHECK_OK(ins(b, 0, 7));
    CHECK_OK(both(a, b));
    CHECK(same_hash(a, b));
    CHECK(strcmp(show(b), "7,20") == 0);
    weft_replica_free(a);
    weft_replica_free(b);
}

/* A field holding an array becomes a list of its elements; other values
 * and texts are not lists. */
static void array_becomes_list(void) {
    weft_replica *a = rep(ka), *b = rep(kb);
    uint8_t arr[] = {0x07, 0x02, 0x03, 0x02, 0x03, 0x04}; /* [1, 2] */
    CHECK_OK(weft_replica_put(a, "todo", 4, "l", 1, "items", 5, arr, sizeof arr));
    uint8_t *rec;
    size_t rl = commit_copy(a, &rec);
    CHECK(rl > 0);
    free(rec);
    CHECK_OK(ins(a, 2, 3));
    CHECK(strcmp(show(a), "1,2,3") == 0);
    CHECK_OK(mv(a, 2, 0));
    CHECK_OK(sync_to(a, b));
    CHECK(strcmp(show(b), "3,1,2") == 0);
    CHECK(same_hash(a, b));
    CHECK_OK(put_str(a, "todo", "l", "items", "no"));
    commit_copy(a, &rec);
    free(rec);
    CHECK_RC(ins(a, 0, 1), WEFT_ENOTLIST);
    const uint8_t *r2;
    size_t l2;
    CHECK_OK(weft_replica_text_splice(a, "todo", 4, "t", 1, "items", 5, 0, 0, "x", 1, 0, &r2, &l2));
    CHECK_RC(weft_replica_list_edit(a, "todo", 4, "t", 1, "items", 5, WEFT_LIST_DELETE, 0, 0, NULL,
                                    0, 0, 0, &r2, &l2),
             WEFT_ENOTLIST);
    /* And text edits leave a list alone. */
    CHECK_OK(ins(b, 0, 9));
    CHECK_RC(weft_replica_text_splice(b, "todo", 4, "l", 1, "items", 5, 0, 0, "x", 1, 0, &r2, &l2),
             WEFT_EINVAL);
    weft_replica_free(a);
    weft_replica_free(b);
}

/* Edits joining an open transaction show at once and go in one change. */
static void in_transaction(void) {
    weft_replica *a = rep(ka), *b = rep(kb);
    uint8_t one[] = {0x03, 0x02};
    const uint8_t *rec;
    size_t rl;
    CHECK_OK(put_int(a, "todo", "x", "n", 5));
    for (int i = 0; i < 3; i++)
        CHECK_OK(weft_replica_list_edit(a, "todo", 4, "l", 1, "items", 5, WEFT_LIST_INSERT,
                                        (size_t)i, 0, one, sizeof one, 1, 0, &rec, &rl));
    CHECK(rl == 0);
    CHECK_OK(weft_replica_list_edit(a, "todo", 4, "l", 1, "items", 5, WEFT_LIST_MOVE, 0, 2, NULL, 0,
                                    1, 0, &rec, &rl));
    CHECK(weft_replica_txn_ops(a) == 5);
    CHECK(strcmp(show(a), "1,1,1") == 0);
    CHECK_RC(weft_replica_rollback(a), WEFT_ESTATE); /* the list shows them already */
    /* A field written in the transaction cannot take list edits. */
    CHECK_RC(weft_replica_list_edit(a, "todo", 4, "x", 1, "n", 1, WEFT_LIST_INSERT, 0, 0, one,
                                    sizeof one, 1, 0, &rec, &rl),
             WEFT_ESTATE);
    CHECK_RC(ins(a, 0, 1), WEFT_ESTATE); /* join 0 with a transaction open */
    uint8_t *r;
    commit_copy(a, &r);
    free(r);
    CHECK_OK(sync_to(a, b));
    CHECK(same_hash(a, b));
    CHECK(get_int(b, "todo", "x", "n") == 5);
    weft_replica_free(a);
    weft_replica_free(b);
}

static void snapshots(void) {
    weft_replica *a = rep(ka), *b = rep(kb);
    for (int i = 0; i < 6; i++)
        CHECK_OK(ins(a, 0, i));
    CHECK_OK(both(a, b));
    CHECK_OK(mv(a, 0, 5));
    CHECK_OK(mv(b, 0, 3));
    CHECK_OK(del(b, 1));
    CHECK_OK(edit(a, WEFT_LIST_SET, 2, 0, 99));
    CHECK_OK(both(a, b));
    const uint8_t *snap;
    size_t sl;
    CHECK_OK(weft_replica_snapshot(a, &snap, &sl));
    weft_replica *a2 = rep(ka);
    CHECK_OK(weft_replica_load_snapshot(a2, snap, sl));
    CHECK(same_hash(a, a2));
    CHECK(strcmp(show(a2), show(b)) == 0);
    /* The loaded replica keeps editing and merging. */
    CHECK_OK(mv(a2, 0, 2));
    CHECK_OK(ins(b, 1, 50));
    CHECK_OK(both(a2, b));
    CHECK(same_hash(a2, b));
    char want[512];
    strcpy(want, show(b));
    CHECK(strcmp(show(a2), want) == 0);
    /* A damaged list state is refused whole, with the checksum fixed up
     * (a hostile publisher could sign anything): flip bytes of the list
     * part and the loader says EMALFORMED/ETRUNCATED, never crashes. */
    CHECK_OK(weft_replica_snapshot(a2, &snap, &sl));
    uint8_t *copy = malloc(sl);
    int refused = 0;
    for (size_t k = 40; k + 32 < sl; k++) {
        memcpy(copy, snap, sl);
        copy[k] ^= 0x5a;
        weft_blake2b(copy + sl - 32, 32, copy, sl - 32);
        weft_replica *x = rep(ka);
        int rc = weft_replica_load_snapshot(x, copy, sl);
        refused += rc != 0;
        CHECK(rc == 0 || rc == WEFT_EMALFORMED || rc == WEFT_ETRUNCATED || rc == WEFT_ETOOBIG ||
              rc == WEFT_EVERSION || rc == WEFT_ESPACE);
        if (!rc) weft_state_hash(x, (uint8_t[32]){0});
        weft_replica_free(x);
    }
    CHECK(refused > 0);
    free(copy);
    weft_replica_free(a);
    weft_replica_free(a2);
    weft_replica_free(b);
}

/* ---- hostile changes, built by hand (PLAIN: no signature) ---- */

static size_t put_varint(uint8_t *p, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* The first change (seq 1) of `author` with one op: names "todo",
 * "items"; the op on document "l", field 1, after `op_rest`. */
static size_t raw_change(uint8_t *out, const uint8_t *author, uint64_t lamport, uint8_t code,
                         const uint8_t *rest, size_t rest_len) {
    uint8_t body[256];
    size_t b = 0;
    memcpy(body + b, "\x02\x04todo\x05items\x00\x01", 14);
    b += 14;
    body[b++] = code;
    memcpy(body + b, "\x00\x01l\x01", 4);
    b += 4;
    if (rest_len) memcpy(body + b, rest, rest_len);
    b += rest_len;
    size_t n = 0;
    out[n++] = 1;
    out[n++] = 1;
    out[n++] = 0;
    memcpy(out + n, space, 32);
    n += 32;
    memcpy(out + n, author, 32);
    n += 32;
    n += put_varint(out + n, 1);
    n += put_varint(out + n, lamport);
    n += put_varint(out + n, 1);
    n += put_varint(out + n, 0);
    memset(out + n, 0, 32);
    n += 32;
    out[n++] = 0; /* no deps */
    n += put_varint(out + n, b);
    memcpy(out + n, body, b);
    return n + b;
}

static int apply_one(weft_replica *r, const uint8_t *rec, size_t len, int *first_error) {
    weft_apply_result res;
    int rc = weft_replica_apply(r, rec, len, &res);
    *first_error = rc ? rc : res.first_error;
    return rc || res.rejected ? 1 : 0; /* 1: refused */
}

static void hostile(void) {
    weft_replica *a = rep(ka);
    CHECK_OK(ins(a, 0, 1));
    uint8_t rec[512];
    size_t n;
    int err;
    /* Malformed list ops refuse the whole change. */
    static const struct {
        uint8_t code;
        const char *rest;
        size_t len;
    } bad[] = {
        {8, "\x00\x00", 2},                     /* delete of no item */
        {10, "\x00\x00\x03\x02", 4},            /* set of no item */
        {7, "\x00\x00\x01\x00\x00\x03\x02", 7}, /* insert whose left origin is its own id */
        {7, "\x00\x00\x00\x00\x09", 5},         /* insert of a bad value tag */
        {11, "\x00", 1},                        /* op code 11: unknown */
        {7, "\x00\x00\x00\x03\x00", 5},         /* an origin naming author ref 2 of 0 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        n = raw_change(rec, kb, 5, bad[i].code, (const uint8_t *)bad[i].rest, bad[i].len);
        CHECK(apply_one(a, rec, n, &err) == 1);
        CHECK(err == WEFT_EMALFORMED || err == WEFT_ETRUNCATED);
    }
    /* A value nested as deep as a field may be is one level too deep for a
     * list item. */
    uint8_t deep[128];
    size_t d = 0;
    deep[d++] = 0;
    deep[d++] = 0;
    deep[d++] = 0;
    deep[d++] = 0;
    for (int k = 0; k < WEFT_VALUE_MAX_DEPTH; k++) {
        deep[d++] = 0x07;
        deep[d++] = 0x01;
    }
    deep[d++] = 0x00;
    n = raw_change(rec, kb, 5, 7, deep, d);
    CHECK(apply_one(a, rec, n, &err) == 1);
    CHECK(err == WEFT_ETOOBIG);
    CHECK(strcmp(show(a), "1") == 0);

    /* Well-formed ops naming an item or an origin that is not here wait
     * (a hostile author left them out of its past): the list is the same
     * whatever the order of arrival. Author d moves b's item 0 after b's
     * item 1; b's change with both inserts comes later on one replica. */
    weft_replica *b = rep(kb), *x = rep(kc), *y = rep(kc);
    CHECK_OK(ins(b, 0, 10));
    CHECK_OK(ins(b, 1, 11));
    uint8_t mrest[] = {0x00, 0x02, 0x00, /* obs none; item (ref 1 + 1 = authors[0], 0) */
                       0x00,             /* entry seq 0 of c */
                       0x02, 0x01,       /* left: authors[0] seq 1 */
                       0x00};            /* right: the end */
    uint8_t mrec[512];
    /* The author table must hold b: build the body by hand. */
    uint8_t body[128];
    size_t bl = 0;
    memcpy(body, "\x02\x04todo\x05items\x01", 13);
    bl = 13;
    memcpy(body + bl, kb, 32);
    bl += 32;
    body[bl++] = 1;
    body[bl++] = 9;
    memcpy(body + bl, "\x00\x01l\x01", 4);
    bl += 4;
    memcpy(body + bl, mrest, sizeof mrest);
    bl += sizeof mrest;
    n = raw_change(mrec, kd, 9, 1, NULL, 0); /* header template */
    size_t head = n - 20;                    /* the template's body_len byte and body */
    mrec[head] = (uint8_t)bl;
    memcpy(mrec + head + 1, body, bl);
    size_t mlen = head + 1 + bl;
    uint8_t *brec;
    const uint8_t *vv, *diff;
    size_t vl, dl;
    CHECK_OK(weft_replica_vv(x, &vv, &vl));
    CHECK_OK(weft_replica_diff(b, vv, 0, &diff, &dl));
    brec = malloc(dl);
    memcpy(brec, diff, dl);
    CHECK(apply_one(x, brec, dl, &err) == 0);
    CHECK(apply_one(x, mrec, mlen, &err) == 0);
    CHECK(apply_one(y, mrec, mlen, &err) == 0); /* waits inside the list */
    CHECK(apply_one(y, brec, dl, &err) == 0);
    CHECK(strcmp(show(x), "11,10") == 0);
    CHECK(strcmp(show(y), "11,10") == 0);
    CHECK(same_hash(x, y));
    /* A delete of an item that never comes waits for good, and changes
     * nothing visible but the empty list it starts. */
    n = raw_change(rec, ka, 3, 8, (const uint8_t *)"\x00\x01\x07", 3);
    weft_replica *z = rep(kc);
    CHECK(apply_one(z, rec, n, &err) == 0);
    CHECK(strcmp(show(z), "") == 0);
    free(brec);
    weft_replica_free(a);
    weft_replica_free(b);
    weft_replica_free(x);
    weft_replica_free(y);
    weft_replica_free(z);
}

static void setup(void) {
    fill_key(space, 0x5a);
    fill_key(ka, 0x11);
    fill_key(kb, 0x22);
    fill_key(kc, 0x33);
    fill_key(kd, 0x44);
}

static void run_setup(void) {
    setup();
}

RUN_TESTS(T(run_setup), T(local_edits), T(below_level), T(concurrent_moves), T(move_delete_set),
          T(array_becomes_list), T(in_transaction), T(snapshots), T(hostile))
