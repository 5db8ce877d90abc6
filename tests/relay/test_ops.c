/*
 * The operator's view (issue 28, docs/RELAY.md "Metrics"): GET
 * /admin/spaces, the bounded top-N of open spaces, behind --admin-token;
 * and the byte and connection totals on /metrics moving with traffic.
 *
 *   test_ops PATH_TO_WEFT_RELAY [test]
 */
#include "harness.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

static const char *exe;

static int get(int port, const char *path, const char *hdrs, char **body) {
    int status = -1;
    size_t len;
    *body = NULL;
    if (http_request(port, "GET", path, hdrs, NULL, 0, &status, body, &len, NULL, 5000)) return -1;
    return status;
}

/* Three spaces with 3, 2 and 1 readers, and 5, 1 and 9 changes. */
static void admin_spaces(void) {
    relay_proc rp;
    memset(&rp, 0, sizeof rp);
    static const char *const extra[] = {"--admin-token", "s3cret-admin", NULL};
    if (relay_spawn(&rp, exe, "memory", 0, extra)) {
        CHECK(!"relay started");
        return;
    }
    enum { N = 3 };
    static const int readers[N] = {3, 2, 1}, changes[N] = {5, 1, 9};
    ident owners[N];
    uint8_t keys[N][32];
    tclient c[N][4];
    char hex[N][65];
    double bytes0 = relay_metric(rp.port, "weft_relay_bytes_in_total");
    double conns0 = relay_metric(rp.port, "weft_relay_connections_total");
    for (int s = 0; s < N; s++) {
        ident_new(&owners[s]);
        BE.random(BE.ctx, keys[s], 32);
        for (int i = 0; i < 32; i++)
            snprintf(hex[s] + 2 * i, 3, "%02x", owners[s].pk[i]);
        CHECK(tc_init(&c[s][0], &owners[s], NULL, WEFT_RIGHT_WRITE, keys[s]) == 0);
        CHECK(tc_connect(&c[s][0], rp.port, 1, 0, 0) == 0);
        CHECK(tc_wait(&c[s][0], until_synced, 0, 5000));
        CHECK(tc_write(&c[s][0], changes[s], 100, 1) == 0);
        CHECK(tc_wait(&c[s][0], until_acked, (uint64_t)changes[s], 5000));
        for (int i = 1; i < readers[s]; i++) {
            CHECK(tc_init(&c[s][i], &owners[s], NULL, WEFT_RIGHT_READ, keys[s]) == 0);
            CHECK(tc_connect(&c[s][i], rp.port, 1, 0, 0) == 0);
            CHECK(tc_wait(&c[s][i], until_synced, 0, 5000));
        }
    }
    /* Totals moved with the traffic. */
    CHECK(relay_metric(rp.port, "weft_relay_bytes_in_total") > bytes0 + 15 * 100);
    CHECK(relay_metric(rp.port, "weft_relay_connections_total") >= conns0 + 6);
    CHECK(relay_metric(rp.port, "weft_relay_connections") == 6);
    char *body;
    /* No token, a wrong one: 401, nothing shown. */
    CHECK(get(rp.port, "/admin/spaces", NULL, &body) == 401);
    CHECK(body && !strstr(body, hex[0]));
    free(body);
    CHECK(get(rp.port, "/admin/spaces", "Authorization: Bearer s3cret-admiN\r\n", &body) == 401);
    free(body);
    const char *auth = "Authorization: Bearer s3cret-admin\r\n";
    /* By connections: 3, 2, 1, in that order. */
    CHECK(get(rp.port, "/admin/spaces?by=conns", auth, &body) == 200);
    char *a = body ? strstr(body, hex[0]) : NULL, *b = body ? strstr(body, hex[1]) : NULL,
         *d = body ? strstr(body, hex[2]) : NULL;
    CHECK(a && b && d && a < b && b < d);
    CHECK(body && strstr(body, "\"spaces_open\":3"));
    CHECK(body && strstr(body, "\"connections\":3"));
    free(body);
    /* By changes with limit 2: the 9-change space, then the 5-change one. */
    CHECK(get(rp.port, "/admin/spaces?by=changes&limit=2", auth, &body) == 200);
    a = body ? strstr(body, hex[2]) : NULL;
    b = body ? strstr(body, hex[0]) : NULL;
    CHECK(a && b && a < b && !strstr(body, hex[1]));
    free(body);
    CHECK(get(rp.port, "/admin/spaces?by=bytes&limit=1", auth, &body) == 200);
    CHECK(body && strstr(body, hex[2]) && !strstr(body, hex[0]));
    free(body);
    CHECK(get(rp.port, "/admin/spaces?by=nonsense", auth, &body) == 400);
    free(body);
    for (int s = 0; s < N; s++)
        for (int i = 0; i < readers[s]; i++)
            tc_free(&c[s][i]);
    CHECK(relay_stop(&rp, SIGTERM, 8000) == 0);
    /* Without --admin-token the endpoint does not exist. */
    memset(&rp, 0, sizeof rp);
    if (relay_spawn(&rp, exe, "memory", 0, NULL) == 0) {
        CHECK(get(rp.port, "/admin/spaces", auth, &body) == 404);
        free(body);
        CHECK(relay_stop(&rp, SIGTERM, 8000) == 0);
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_ops PATH_TO_WEFT_RELAY [test]\n");
        return 2;
    }
    exe = argv[1];
    harness_init();
    static const relay_test tests[] = {{"admin_spaces", admin_spaces}};
    return run_relay_tests(tests, sizeof tests / sizeof *tests, argc > 2 ? argv[2] : NULL);
}
