/*
 * fuzz_rcluster: the relay's Redis Cluster helpers (relay/rcluster.h),
 * which read what a Redis node answers: a MOVED/ASK error's text, and key
 * slots. Input: any bytes. The parser must accept or refuse without reading
 * out of bounds, and what it accepts names a real slot and port and
 * prints back to the same text.
 */
#include "fuzz_common.h"

#include "../../relay/rcluster.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FUZZ_ASSERT(rcluster_key_slot((const char *)data, size) < RCLUSTER_SLOTS);
    rcluster_redirect r;
    if (!rcluster_parse_redirect((const char *)data, size, &r)) return 0;
    FUZZ_ASSERT(r.slot < RCLUSTER_SLOTS && r.port > 0 && r.port <= 65535 && r.host[0]);
    char again[160];
    int n = snprintf(again, sizeof again, "%s %u %s:%d", r.ask ? "ASK" : "MOVED", r.slot, r.host,
                     r.port);
    /* Leading zeros in the numbers are the only other spelling accepted. */
    if ((size_t)n == size) FUZZ_ASSERT(memcmp(again, data, size) == 0 || memchr(data, '0', size));
    return 0;
}
