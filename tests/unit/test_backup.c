/*
 * Key backups (weft/backup.h): what is sealed opens with the passphrase and
 * only with it; an altered, cut, too new or hostile blob is refused with the
 * code the header names and leaves nothing behind. The golden blob in
 * tests/vectors/backup/v1.txt pins the layout (docs/FORMAT.md §11); the CLI
 * and weftdb tests open the same file.
 */
#include "check.h"
#include "weft/backup.h"
#include "weft/sodium.h"

static const char *vector_path;
static weft_crypto_backend BE; /* libsodium with deterministic randomness */
static uint64_t rng_counter;

static int det_random(void *ctx, uint8_t *buf, size_t len) {
    (void)ctx;
    while (len) {
        uint8_t block[64], in[20] = "weft-backup-rng";
        for (int i = 0; i < 8; i++)
            in[12 + i] = (uint8_t)(rng_counter >> (8 * i));
        rng_counter++;
        weft_blake2b(block, 64, in, sizeof in);
        size_t n = len < 64 ? len : 64;
        memcpy(buf, block, n);
        buf += n;
        len -= n;
    }
    return 0;
}

#define PW "correct horse battery staple"

static uint8_t space[32], owner_sk[64], author_pk[32], author_sk[64], keys[64];
static uint8_t token[WEFT_TOKEN_MAX_BYTES], grant[WEFT_GRANT_MAX_BYTES];
static size_t token_len, grant_len;
static weft_backup B;

static void setup(void) {
    if (weft_sodium_backend(&BE)) abort();
    BE.random = det_random;
    rng_counter = 0;
    if (weft_keypair_generate(&BE, space, owner_sk) ||
        weft_keypair_generate(&BE, author_pk, author_sk) || det_random(NULL, keys, 64))
        abort();
    if (weft_token_issue(&BE, token, sizeof token, &token_len, space, owner_sk, NULL, 0, author_pk,
                         WEFT_RIGHT_ADMIN, 0, 0) ||
        weft_grant_sign(&BE, grant, sizeof grant, &grant_len, space, owner_sk, author_pk,
                        WEFT_RIGHT_ADMIN, 0, 0, 1700000000000ull))
        abort();
    memset(&B, 0, sizeof B);
    memcpy(B.space, space, 32);
    memcpy(B.author_sk, author_sk, 64);
    memcpy(B.owner_sk, owner_sk, 64);
    B.has_owner = 1;
    B.key_epoch = 1;
    B.keys = keys;
    B.n_keys = 2;
    B.token = token;
    B.token_len = token_len;
    B.records = grant;
    B.records_len = grant_len;
    B.relay = "wss://relay.example/";
    B.relay_len = strlen(B.relay);
}

static size_t seal(uint8_t *dst, size_t cap) {
    size_t len = 0;
    CHECK_OK(weft_backup_seal(&BE, dst, cap, &len, &B, PW, strlen(PW)));
    CHECK(len == weft_backup_bound(&B));
    return len;
}

static void round_trip(void) {
    setup();
    uint8_t blob[2048], plain[2048];
    size_t len = seal(blob, sizeof blob);
    CHECK(memcmp(blob, "WEFTBKUP\x01\x01\x03", 11) == 0);
    weft_backup o;
    CHECK_OK(weft_backup_open(&BE, plain, sizeof plain, &o, blob, len, PW, strlen(PW)));
    CHECK(memcmp(o.space, space, 32) == 0 && memcmp(o.author_sk, author_sk, 64) == 0);
    CHECK(o.has_owner && memcmp(o.owner_sk, owner_sk, 64) == 0 && o.key_epoch == 1);
    CHECK(o.n_keys == 2 && memcmp(o.keys, keys, 64) == 0);
    CHECK(o.token_len == token_len && memcmp(o.token, token, token_len) == 0);
    CHECK(o.records_len == grant_len && memcmp(o.records, grant, grant_len) == 0);
    CHECK(o.level_len == 0 && o.relay_len == 20 &&
          memcmp(o.relay, "wss://relay.example/", 20) == 0);
    /* Without the owner's secret, and the smallest backup. */
    B.has_owner = 0;
    B.n_keys = 1;
    B.token_len = B.records_len = B.relay_len = 0;
    len = seal(blob, sizeof blob);
    CHECK_OK(weft_backup_open(&BE, plain, sizeof plain, &o, blob, len, PW, strlen(PW)));
    CHECK(!o.has_owner && o.n_keys == 1 && !o.token_len && !o.records_len && !o.relay_len);
    CHECK(len == weft_backup_bound(&B) &&
          len == 8 + 2 + 1 + 3 + 16 + 24 + 32 + 64 + 1 + 1 + 1 + 32 + 4 + 16);
}

static void refusals(void) {
    setup();
    uint8_t blob[2048], plain[2048], small[8];
    size_t len = seal(blob, sizeof blob), n;
    weft_backup o;
    /* A wrong passphrase: one code, and nothing in the payload buffer. */
    memset(plain, 0xAA, sizeof plain);
    CHECK_RC(weft_backup_open(&BE, plain, sizeof plain, &o, blob, len,
                              "correct horse battery stapl", 27),
             WEFT_EPASSPHRASE);
    CHECK(plain[0] == 0 && plain[100] == 0);
    /* Altered salt, nonce, ciphertext or tag. */
    size_t at[] = {14, 14 + 16, 60, len / 2, len - 1};
    for (size_t i = 0; i < sizeof at / sizeof *at; i++) {
        blob[at[i]] ^= 1;
        CHECK_RC(weft_backup_open(&BE, plain, sizeof plain, &o, blob, len, PW, strlen(PW)),
                 WEFT_EPASSPHRASE);
        blob[at[i]] ^= 1;
    }
    /* Header: another magic, a newer version, an unknown kdf, hostile limits. */
    blob[0] ^= 1;
    CHECK_RC(weft_backup_open(&BE, plain, sizeof plain, &o, blob, len, PW, strlen(PW)),
             WEFT_EMALFORMED);
    blob[0] ^= 1;
    blob[8] = 2;
    CHECK_RC(weft_backup_open(&BE, plain, sizeof plain, &o, blob, len, PW, strlen(PW)),
             WEFT_EVERSION);
    blob[8] = 1;
    blob[9] = 2;
    CHECK_RC(weft_backup_open(&BE, plain, sizeof plain, &o, blob, len, PW, strlen(PW)),
             WEFT_EMALFORMED);
    blob[9] = 1;
    blob[10] = 11; /* opslimit above the maximum */
    CHECK_RC(weft_backup_open(&BE, plain, sizeof plain, &o, blob, len, PW, strlen(PW)),
             WEFT_ETOOBIG);
    blob[10] = 0;
    CHECK_RC(weft_backup_open(&BE, plain, sizeof plain, &o, blob, len, PW, strlen(PW)),
             WEFT_EMALFORMED);
    blob[10] = 3;
    /* memlimit 2^21 KiB = 2 GiB: varint 0x80 0x80 0x80 0x01 does not fit
     * the 3 bytes, so rewrite a header by hand. */
    uint8_t hostile[11 + 4 + 40 + 16];
    memcpy(hostile, blob, 11);
    memcpy(hostile + 11, "\x80\x80\x80\x01", 4);
    memset(hostile + 15, 0, sizeof hostile - 15);
    weft_backup_header h;
    CHECK_RC(weft_backup_header_decode(&h, hostile, sizeof hostile), WEFT_ETOOBIG);
    /* Every cut. */
    for (size_t cut = 0; cut < len; cut += cut < 64 ? 1 : 97) {
        int rc = weft_backup_open(&BE, plain, sizeof plain, &o, blob, cut, PW, strlen(PW));
        CHECK(rc == WEFT_ETRUNCATED || rc == WEFT_EPASSPHRASE);
    }
    /* What seal refuses. */
    CHECK_RC(weft_backup_seal(&BE, blob, sizeof blob, &n, &B, "short", 5), WEFT_EINVAL);
    CHECK_RC(weft_backup_seal(&BE, small, sizeof small, &n, &B, PW, strlen(PW)), WEFT_ENOSPACE);
    B.n_keys = 0;
    CHECK_RC(weft_backup_seal(&BE, blob, sizeof blob, &n, &B, PW, strlen(PW)), WEFT_EINVAL);
    B.n_keys = WEFT_BACKUP_MAX_KEYS + 1;
    CHECK_RC(weft_backup_seal(&BE, blob, sizeof blob, &n, &B, PW, strlen(PW)), WEFT_EINVAL);
    B.n_keys = 2;
    B.space[0] ^= 1; /* an owner secret of another space */
    CHECK_RC(weft_backup_seal(&BE, blob, sizeof blob, &n, &B, PW, strlen(PW)), WEFT_EINVAL);
    B.space[0] ^= 1;
    weft_crypto_backend no_pw = BE;
    no_pw.pwhash = NULL;
    CHECK_RC(weft_backup_seal(&no_pw, blob, sizeof blob, &n, &B, PW, strlen(PW)),
             WEFT_EUNAVAILABLE);
}

/* The payload decoder on its own (what the fuzz target drives). */
static void payload_decoder(void) {
    setup();
    uint8_t p[1024];
    size_t n = 0;
    memcpy(p, space, 32);
    memcpy(p + 32, author_sk, 64);
    n = 96;
    p[n++] = 0; /* flags */
    p[n++] = 0; /* key_epoch */
    p[n++] = 1; /* one key */
    memcpy(p + n, keys, 32);
    n += 32;
    p[n++] = 0, p[n++] = 0, p[n++] = 0, p[n++] = 0; /* token, records, level, relay */
    weft_backup o;
    CHECK_OK(weft_backup_decode(&o, p, n));
    CHECK(o.n_keys == 1 && !o.has_owner);
    p[n] = 0;
    CHECK_RC(weft_backup_decode(&o, p, n + 1), WEFT_EMALFORMED); /* trailing byte */
    CHECK_RC(weft_backup_decode(&o, p, n - 1), WEFT_ETRUNCATED);
    p[96] = 2;
    CHECK_RC(weft_backup_decode(&o, p, n), WEFT_EMALFORMED); /* unknown flag */
    p[96] = 0;
    p[98] = 0;
    CHECK_RC(weft_backup_decode(&o, p, n), WEFT_EMALFORMED); /* no key */
    p[98] = 34;
    CHECK_RC(weft_backup_decode(&o, p, n), WEFT_ETOOBIG);
    p[98] = 1;
    p[n - 3] = 3; /* records: 3 bytes that are not a membership record */
    uint8_t q[1024];
    memcpy(q, p, n - 2);
    memcpy(q + n - 2, "abc\0\0", 5);
    CHECK_RC(weft_backup_decode(&o, q, n + 3), WEFT_EMALFORMED);
}

/* The golden blob: sealed with deterministic randomness, it must come out
 * byte for byte; and it must open (what the CLI and weftdb tests read). */
static void golden(void) {
    setup();
    uint8_t blob[2048], plain[2048];
    size_t len = seal(blob, sizeof blob);
    char *hex = malloc(2 * len + 1);
    for (size_t i = 0; i < len; i++)
        sprintf(hex + 2 * i, "%02x", blob[i]);
    if (getenv("WEFT_UPDATE_VECTORS")) {
        FILE *f = fopen(vector_path, "w");
        CHECK(f != NULL);
        if (f) {
            fprintf(f, "# A key backup (tests/unit/test_backup.c; docs/FORMAT.md §11).\n");
            fprintf(f, "passphrase %s\nblob %s\nspace ", PW, hex);
            for (int i = 0; i < 32; i++)
                fprintf(f, "%02x", space[i]);
            fprintf(f, "\nauthor ");
            for (int i = 0; i < 32; i++)
                fprintf(f, "%02x", author_pk[i]);
            fprintf(f, "\n");
            fclose(f);
        }
    }
    FILE *f = fopen(vector_path, "rb");
    CHECK(f != NULL);
    char *text = calloc(1, 1 << 14);
    if (f) {
        CHECK(fread(text, 1, (1 << 14) - 1, f) > 0);
        fclose(f);
    }
    char *want = malloc(2 * len + 8);
    sprintf(want, "\nblob %s\n", hex);
    CHECK(strstr(text, want) != NULL);
    weft_backup o;
    CHECK_OK(weft_backup_open(&BE, plain, sizeof plain, &o, blob, len, PW, strlen(PW)));
    CHECK(memcmp(o.author_sk + 32, author_pk, 32) == 0);
    free(want);
    free(text);
    free(hex);
}

int main(int argc, char **argv) {
    vector_path = argc > 1 ? argv[1] : "tests/vectors/backup/v1.txt";
    static const test_case tests[] = {T(round_trip), T(refusals), T(payload_decoder), T(golden)};
    return run_tests(tests, sizeof tests / sizeof *tests);
}
