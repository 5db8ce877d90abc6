/*
 * Names and messages for the codes of weft/error.h, generated from the same
 * X-macro so the three never disagree; and the constants of weft/api.h as
 * functions.
 */
#include "weft/error.h"

const char *weft_strerror(int code) {
    switch (code) {
#define WEFT_X_MSG(name, value, msg) \
    case value:                      \
        return msg;
        WEFT_ERRORS(WEFT_X_MSG)
#undef WEFT_X_MSG
    }
    return "unknown error";
}

const char *weft_err_name(int code) {
    switch (code) {
#define WEFT_X_NAME(name, value, msg) \
    case value:                       \
        return #name;
        WEFT_ERRORS(WEFT_X_NAME)
#undef WEFT_X_NAME
    }
    return "UNKNOWN";
}

/* The library-wide constants of weft/api.h, as functions for bindings. */
const char *weft_version_string(void) {
    return WEFT_VERSION_STRING;
}
int weft_format_version(void) {
    return WEFT_FORMAT_VERSION;
}
size_t weft_key_bytes(void) {
    return WEFT_KEY_BYTES;
}
size_t weft_hash_bytes(void) {
    return WEFT_HASH_BYTES;
}
