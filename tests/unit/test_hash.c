/* BLAKE2b against RFC 7693 and Python's hashlib (an independent implementation). */
#include "check.h"

static void hex(char *out, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

static void known_answers(void) {
    uint8_t out[64];
    char h[129];
    CHECK_OK(weft_blake2b(out, 64, "abc", 3));
    hex(h, out, 64);
    CHECK(strcmp(h, "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
                    "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923") == 0);
    CHECK_OK(weft_blake2b(out, 32, "", 0));
    hex(h, out, 32);
    CHECK(strcmp(h, "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8") == 0);
    CHECK_OK(weft_blake2b(out, 32, "abc", 3));
    hex(h, out, 32);
    CHECK(strcmp(h, "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319") == 0);
}

/* RFC 7693 Appendix E: a hash over many keyed and unkeyed hashes. */
static void selftest_seq(uint8_t *out, size_t len, uint32_t seed) {
    uint32_t a = 0xDEAD4BAD * seed, b = 1;
    for (size_t i = 0; i < len; i++) {
        uint32_t t = a + b;
        a = b;
        b = t;
        out[i] = (uint8_t)(t >> 24);
    }
}

static void rfc7693_selftest(void) {
    static const size_t md_len[] = {20, 32, 48, 64}, in_len[] = {0, 3, 128, 129, 255, 1024};
    static const uint8_t want[32] = {0xC2, 0x3A, 0x78, 0x00, 0xD9, 0x81, 0x23, 0xBD,
                                     0x10, 0xF5, 0x06, 0xC6, 0x1E, 0x29, 0xDA, 0x56,
                                     0x03, 0xD7, 0x63, 0xB8, 0xBB, 0xAD, 0x2E, 0x73,
                                     0x7F, 0x5E, 0x76, 0x5A, 0x7B, 0xCC, 0xD4, 0x75};
    uint8_t in[1024], md[64], key[64], res[32];
    weft_blake2b_state grand, s;
    CHECK_OK(weft_blake2b_init(&grand, 32, NULL, 0));
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 6; j++) {
            selftest_seq(in, in_len[j], (uint32_t)in_len[j]);
            CHECK_OK(weft_blake2b(md, md_len[i], in, in_len[j]));
            weft_blake2b_update(&grand, md, md_len[i]);
            selftest_seq(key, md_len[i], (uint32_t)md_len[i]);
            CHECK_OK(weft_blake2b_init(&s, md_len[i], key, md_len[i]));
            weft_blake2b_update(&s, in, in_len[j]);
            weft_blake2b_final(&s, md);
            weft_blake2b_update(&grand, md, md_len[i]);
        }
    weft_blake2b_final(&grand, res);
    CHECK(memcmp(res, want, 32) == 0);
}

static void keyed_and_streaming(void) {
    uint8_t data[1280], one[32], part[32];
    char h[65];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)i;
    weft_blake2b_state s;
    CHECK_OK(weft_blake2b_init(&s, 32, (const uint8_t *)"weft-key", 8));
    weft_blake2b_update(&s, data, sizeof data);
    weft_blake2b_final(&s, one);
    hex(h, one, 32);
    CHECK(strcmp(h, "b1449557d073968d1c6655d1160dfd73d400f0f773f898711519d044cb9b5c83") == 0);
    /* Any split of the input gives the same hash. */
    static const size_t splits[] = {0, 1, 127, 128, 129, 256, 1000, 1280};
    for (size_t k = 0; k < sizeof splits / sizeof *splits; k++) {
        CHECK_OK(weft_blake2b_init(&s, 32, (const uint8_t *)"weft-key", 8));
        weft_blake2b_update(&s, data, splits[k]);
        weft_blake2b_update(&s, data + splits[k], sizeof data - splits[k]);
        weft_blake2b_final(&s, part);
        CHECK(memcmp(one, part, 32) == 0);
    }
}

static void bad_parameters(void) {
    weft_blake2b_state s;
    uint8_t out[65], key[65] = {0};
    CHECK_RC(weft_blake2b_init(&s, 0, NULL, 0), WEFT_EINVAL);
    CHECK_RC(weft_blake2b_init(&s, 65, NULL, 0), WEFT_EINVAL);
    CHECK_RC(weft_blake2b_init(&s, 32, key, 65), WEFT_EINVAL);
    CHECK_RC(weft_blake2b_init(&s, 32, NULL, 4), WEFT_EINVAL);
    CHECK_RC(weft_blake2b(out, 65, "", 0), WEFT_EINVAL);
}

RUN_TESTS(T(known_answers), T(rfc7693_selftest), T(keyed_and_streaming), T(bad_parameters))
