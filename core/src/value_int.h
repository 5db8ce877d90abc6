/* Internal entry points of value.c for the other decoders. */
#ifndef WEFT_VALUE_INT_H
#define WEFT_VALUE_INT_H

#include "mem.h"

/* Reads and validates one value from r (sets r->err on failure). */
void weft__value_skip(wreader *r);
/* The same for a value that will sit one level down (a list item: the
 * list reads as an array of them), so it may nest one level less. */
void weft__value_skip_nested(wreader *r);

#endif
