/* Canonical values: round trips, and every kind of malformed input. */
#include "check.h"

#include <math.h>

static void scalars_round_trip(void) {
    uint8_t b[64];
    size_t len;
    weft_value v;
    CHECK_OK(weft_value_write_int(b, sizeof b, &len, -123456789012LL));
    CHECK_OK(weft_value_read(&v, NULL, b, len));
    CHECK(v.type == WEFT_TYPE_INT && v.i == -123456789012LL);
    CHECK_OK(weft_value_write_int(b, sizeof b, &len, INT64_MIN));
    CHECK(len == 11);
    CHECK_OK(weft_value_read(&v, NULL, b, len));
    CHECK(v.i == INT64_MIN);
    CHECK_OK(weft_value_write_int(b, sizeof b, &len, INT64_MAX));
    CHECK_OK(weft_value_read(&v, NULL, b, len));
    CHECK(v.i == INT64_MAX);
    CHECK_OK(weft_value_write_float(b, sizeof b, &len, -0.0));
    CHECK_OK(weft_value_read(&v, NULL, b, len));
    CHECK(v.type == WEFT_TYPE_FLOAT && v.f == 0.0 && signbit(v.f));
    CHECK_OK(weft_value_write_float(b, sizeof b, &len, 3.25));
    CHECK(len == 9 && b[0] == 0x04 && b[8] == 0x40); /* little-endian IEEE 754 */
    CHECK_OK(weft_value_write_bool(b, sizeof b, &len, 1));
    CHECK(len == 1 && b[0] == WEFT_TYPE_TRUE);
    CHECK_OK(weft_value_write_null(b, sizeof b, &len));
    CHECK_OK(weft_value_check(b, len));
    CHECK_OK(weft_value_write_string(b, sizeof b, &len, "h\xc3\xa9", 3));
    CHECK_OK(weft_value_read(&v, NULL, b, len));
    CHECK(v.type == WEFT_TYPE_STRING && v.len == 3 && memcmp(v.ptr, "h\xc3\xa9", 3) == 0);
    CHECK_OK(weft_value_write_bytes(b, sizeof b, &len, (const uint8_t *)"\xff\x00", 2));
    CHECK_OK(weft_value_read(&v, NULL, b, len));
    CHECK(v.type == WEFT_TYPE_BYTES && v.len == 2);
}

static void containers(void) {
    /* {"a": [1, null], "b": "x"} written by hand with the writers. */
    uint8_t b[64];
    size_t n = 0, len;
    CHECK_OK(weft_value_write_map(b + n, sizeof b - n, &len, 2));
    n += len;
    CHECK_OK(weft_value_write_key(b + n, sizeof b - n, &len, "a", 1));
    n += len;
    CHECK_OK(weft_value_write_array(b + n, sizeof b - n, &len, 2));
    n += len;
    CHECK_OK(weft_value_write_int(b + n, sizeof b - n, &len, 1));
    n += len;
    CHECK_OK(weft_value_write_null(b + n, sizeof b - n, &len));
    n += len;
    CHECK_OK(weft_value_write_key(b + n, sizeof b - n, &len, "b", 1));
    n += len;
    CHECK_OK(weft_value_write_string(b + n, sizeof b - n, &len, "x", 1));
    n += len;
    weft_value v;
    size_t used;
    CHECK_OK(weft_value_read(&v, &used, b, n));
    CHECK(used == n && v.type == WEFT_TYPE_MAP && v.count == 2 && v.len == n - 2);
    CHECK_OK(weft_value_check(b, n));
    CHECK_RC(weft_value_check(b, n - 1), WEFT_ETRUNCATED);
    /* The same map with its keys swapped is not canonical. */
    uint8_t swapped[] = {0x08, 0x02, 0x01, 'b', 0x05, 0x01, 'x', 0x01, 'a', 0x00};
    CHECK_RC(weft_value_check(swapped, sizeof swapped), WEFT_EMALFORMED);
    uint8_t dup[] = {0x08, 0x02, 0x01, 'a', 0x00, 0x01, 'a', 0x00};
    CHECK_RC(weft_value_check(dup, sizeof dup), WEFT_EMALFORMED);
}

static void rejects_malformed(void) {
    static const struct {
        const char *what;
        uint8_t bytes[8];
        size_t len;
        int want;
    } bad[] = {
        {"empty", {0}, 0, WEFT_ETRUNCATED},
        {"unknown tag", {0x09}, 1, WEFT_EMALFORMED},
        {"non-minimal varint", {0x03, 0x80, 0x00}, 3, WEFT_EMALFORMED},
        {"varint over 64 bits",
         {0x03, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
         8,
         WEFT_ETRUNCATED},
        {"short float", {0x04, 0, 0, 0}, 4, WEFT_ETRUNCATED},
        {"string past the end", {0x05, 0x05, 'a'}, 3, WEFT_ETRUNCATED},
        {"overlong UTF-8", {0x05, 0x02, 0xc0, 0x80}, 4, WEFT_EMALFORMED},
        {"UTF-16 surrogate", {0x05, 0x03, 0xed, 0xa0, 0x80}, 5, WEFT_EMALFORMED},
        {"past U+10FFFF", {0x05, 0x04, 0xf4, 0x90, 0x80, 0x80}, 6, WEFT_EMALFORMED},
        {"array count past the end", {0x07, 0x7f, 0x00}, 3, WEFT_ETRUNCATED},
        {"trailing byte", {0x00, 0x00}, 2, WEFT_EMALFORMED},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = weft_value_check(bad[i].bytes, bad[i].len);
        if (rc != bad[i].want)
            fprintf(stderr, "case '%s': got %s\n", bad[i].what, weft_err_name(rc));
        CHECK(rc == bad[i].want);
    }
    uint8_t ten[11] = {0x03, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    CHECK_RC(weft_value_check(ten, sizeof ten), WEFT_EMALFORMED); /* bit 64 set */
    uint8_t b[8];
    size_t len;
    CHECK_RC(weft_value_write_string(b, sizeof b, &len, "\xff", 1), WEFT_EMALFORMED);
    CHECK_RC(weft_value_write_string(b, 3, &len, "abcd", 4), WEFT_ENOSPACE);
    CHECK_RC(weft_value_write_int(b, 1, &len, 1000), WEFT_ENOSPACE);
}

static void depth_limit(void) {
    /* 32 levels of [ ... ] around null are fine, 33 are not. */
    uint8_t ok[2 * WEFT_VALUE_MAX_DEPTH + 1], too[2 * WEFT_VALUE_MAX_DEPTH + 3];
    for (int i = 0; i < WEFT_VALUE_MAX_DEPTH; i++) {
        ok[2 * i] = 0x07;
        ok[2 * i + 1] = 0x01;
    }
    ok[2 * WEFT_VALUE_MAX_DEPTH] = 0x00;
    CHECK_OK(weft_value_check(ok, sizeof ok));
    for (int i = 0; i <= WEFT_VALUE_MAX_DEPTH; i++) {
        too[2 * i] = 0x07;
        too[2 * i + 1] = 0x01;
    }
    too[2 * WEFT_VALUE_MAX_DEPTH + 2] = 0x00;
    CHECK_RC(weft_value_check(too, sizeof too), WEFT_ETOOBIG);
}

static void utf8_validator(void) {
    CHECK(weft_utf8_valid((const uint8_t *)"plain ascii text, long enough", 29));
    CHECK(weft_utf8_valid((const uint8_t *)"\xf0\x9f\x98\x80", 4)); /* U+1F600 */
    CHECK(!weft_utf8_valid((const uint8_t *)"\xf0\x9f\x98", 3));    /* cut short */
    CHECK(!weft_utf8_valid((const uint8_t *)"abcdefgh\x80", 9));
    CHECK(!weft_utf8_valid((const uint8_t *)"\xe0\x80\xaf", 3)); /* overlong */
}

RUN_TESTS(T(scalars_round_trip), T(containers), T(rejects_malformed), T(depth_limit),
          T(utf8_validator))
