/*
 * Names and messages for the codes of weft/error.h, generated from the same
 * X-macro so the three never disagree.
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
