/* Error codes: every code has a distinct name and a message. */
#include "check.h"

static void names_and_messages(void) {
    static const int codes[] = {
#define X(name, value, msg) value,
        WEFT_ERRORS(X)
#undef X
    };
    size_t n = sizeof codes / sizeof *codes;
    for (size_t i = 0; i < n; i++) {
        CHECK(strcmp(weft_err_name(codes[i]), "UNKNOWN") != 0);
        CHECK(strcmp(weft_strerror(codes[i]), "unknown error") != 0);
        CHECK(codes[i] <= 0);
        for (size_t j = i + 1; j < n; j++) {
            CHECK(codes[i] != codes[j]);
            CHECK(strcmp(weft_err_name(codes[i]), weft_err_name(codes[j])) != 0);
        }
    }
    CHECK(strcmp(weft_err_name(-9999), "UNKNOWN") == 0);
    CHECK(strcmp(weft_strerror(12345), "unknown error") == 0);
    CHECK(strcmp(weft_err_name(WEFT_ETRUNCATED), "TRUNCATED") == 0);
    CHECK(weft_is_error(WEFT_EFORK) && !weft_is_error(WEFT_OK));
}

/* Codes are ABI: they are never renumbered. */
static void stable_numbers(void) {
    CHECK(WEFT_ENOMEM == -1 && WEFT_EINVAL == -2 && WEFT_ETRUNCATED == -3 &&
          WEFT_EMALFORMED == -4 && WEFT_EFORK == -8 && WEFT_ECHAIN == -9 && WEFT_ELIMIT == -17);
}

/* Sizes as functions equal the macros (bindings read the functions). */
static void sizes_as_functions(void) {
    CHECK(weft_key_bytes() == WEFT_KEY_BYTES && weft_hash_bytes() == WEFT_HASH_BYTES);
    CHECK(weft_format_version() == WEFT_FORMAT_VERSION);
    CHECK(strcmp(weft_version_string(), WEFT_VERSION_STRING) == 0);
}

RUN_TESTS(T(names_and_messages), T(stable_numbers), T(sizes_as_functions))
