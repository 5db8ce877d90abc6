/* Compiled once per public header (see meson.build): each must stand alone. */
#include WEFT_HEADER

int weft_header_test_anchor(void);
int weft_header_test_anchor(void) {
    return 0;
}
