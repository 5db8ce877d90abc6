/*
 * A native walk-through of the Weft core, run by `make demo` until the relay
 * and the browser demo exist: two devices edit a todo list offline, at the
 * same time, then sync by exchanging version vectors and the changes the
 * other lacks, and end with the same state hash.
 */
#include "weft/weft.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *what, int rc) {
    fprintf(stderr, "demo: %s: %s\n", what, weft_strerror(rc));
    exit(1);
}

static void put(weft_replica *r, const char *doc, const char *field, const char *text) {
    uint8_t v[256];
    size_t len;
    int rc = weft_value_write_string(v, sizeof v, &len, text, strlen(text));
    if (!rc) rc = weft_replica_put(r, "todos", 5, doc, strlen(doc), field, strlen(field), v, len);
    if (rc) die("put", rc);
}

static void commit(weft_replica *r, const char *who) {
    const uint8_t *rec;
    size_t len;
    int rc = weft_replica_commit(r, 1700000000000ULL, &rec, &len);
    if (rc) die("commit", rc);
    printf("  %s committed a change of %zu bytes\n", who, len);
}

static void show(weft_replica *r, const char *who) {
    uint8_t hash[32];
    if (weft_state_hash(r, hash)) die("hash", WEFT_ENOMEM);
    printf("  %s sees:\n", who);
    const char *key = NULL;
    size_t kl = 0;
    while (weft_replica_next_doc(r, "todos", 5, key, kl, &key, &kl) == 0) {
        const uint8_t *v;
        size_t vl;
        weft_value val;
        printf("    %.*s:", (int)kl, key);
        static const char *fields[] = {"title", "done", "votes"};
        for (int f = 0; f < 3; f++) {
            if (weft_replica_get_field(r, "todos", 5, key, kl, fields[f], strlen(fields[f]), &v,
                                       &vl) ||
                weft_value_read(&val, NULL, v, vl))
                continue;
            if (val.type == WEFT_TYPE_STRING)
                printf(" %s=\"%.*s\"", fields[f], (int)val.len, (const char *)val.ptr);
            else if (val.type == WEFT_TYPE_INT)
                printf(" %s=%lld", fields[f], (long long)val.i);
        }
        printf("\n");
    }
    printf("    state hash %02x%02x%02x%02x…\n", hash[0], hash[1], hash[2], hash[3]);
}

static void sync(weft_replica *from, weft_replica *to, const char *a, const char *b) {
    const uint8_t *vv, *recs;
    size_t vl, rl;
    uint8_t copy[4096];
    int rc = weft_replica_vv(to, &vv, &vl);
    if (rc || vl > sizeof copy) die("vv", rc ? rc : WEFT_ETOOBIG);
    memcpy(copy, vv, vl);
    if ((rc = weft_replica_diff(from, copy, vl, &recs, &rl))) die("diff", rc);
    weft_apply_result res;
    if ((rc = weft_replica_apply(to, recs, rl, &res))) die("apply", rc);
    printf("  %s -> %s: %zu bytes, %u changes applied\n", a, b, rl, res.applied);
}

int main(void) {
    uint8_t space[32], laptop_key[32], phone_key[32];
    memset(space, 0x5e, 32);
    memset(laptop_key, 0x1a, 32);
    memset(phone_key, 0x9f, 32);
    weft_replica *laptop, *phone;
    weft_replica_config cl = {.space = space, .author = laptop_key, .keep_records = 1};
    weft_replica_config cp = {.space = space, .author = phone_key, .keep_records = 1};
    if (weft_replica_new(&laptop, &cl) || weft_replica_new(&phone, &cp)) die("new", WEFT_ENOMEM);

    printf("1. The laptop creates a todo list and syncs it to the phone.\n");
    put(laptop, "t1", "title", "buy milk");
    put(laptop, "t2", "title", "write the report");
    commit(laptop, "laptop");
    sync(laptop, phone, "laptop", "phone");

    printf("\n2. Both go offline and edit at the same time.\n");
    put(laptop, "t1", "title", "buy oat milk");
    put(laptop, "t3", "title", "call Ada");
    if (weft_replica_counter_add(laptop, "todos", 5, "t2", 2, "votes", 5, 1)) die("add", -1);
    commit(laptop, "laptop");
    put(phone, "t2", "done", "yes");
    if (weft_replica_counter_add(phone, "todos", 5, "t2", 2, "votes", 5, 2)) die("add", -1);
    if (weft_replica_delete_doc(phone, "todos", 5, "t1", 2)) die("delete", -1);
    commit(phone, "phone");
    show(laptop, "laptop");
    show(phone, "phone");

    printf("\n3. Back online: each sends what the other lacks.\n");
    sync(laptop, phone, "laptop", "phone");
    sync(phone, laptop, "phone", "laptop");
    show(laptop, "laptop");
    show(phone, "phone");
    printf("   (t1: the phone's delete is later in Lamport order than the laptop's rename, so\n"
           "    it wins on both devices; votes: the concurrent +1 and +2 both count)\n");

    const uint8_t *snap;
    size_t sl;
    if (weft_replica_snapshot(laptop, &snap, &sl)) die("snapshot", -1);
    printf("\n4. A snapshot of this state is %zu bytes; a new device loads it instead of the "
           "history.\n",
           sl);
    weft_replica_free(laptop);
    weft_replica_free(phone);
    printf("\nThis is the native core only. The relay, the weftdb package and the PWA come in\n"
           "later issues; `make test` runs the full test suite.\n");
    return 0;
}
