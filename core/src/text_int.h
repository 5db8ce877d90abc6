/* Internal entry points of text.c for white-box tests. */
#ifndef WEFT_TEXT_INT_H
#define WEFT_TEXT_INT_H

#include "weft/text.h"

/* Checks every invariant of the tree, the id index and the totals (see
 * text.c). Returns 0, or the line in text.c of the first check that
 * failed. Slow: O(n). */
int weft__text_check(const weft_text *t);

#endif
