/*
 * fuzz_backup: the two decoders of a key backup (weft/backup.h).
 *
 * The first byte picks the decoder, the rest is its input:
 *   0  weft_backup_header_decode: an accepted header has limits within the
 *      maxima, and its salt, nonce and payload lie inside the input;
 *   1  weft_backup_decode (an opened payload, which only a passphrase
 *      holder can choose): an accepted payload has 1..WEFT_BACKUP_MAX_KEYS
 *      keys, every field inside the input, and membership records that
 *      decode back to back to its end.
 * Opening itself runs Argon2id first, too slow to fuzz; past it the AEAD
 * refuses anything not sealed with the key.
 */
#include "fuzz_common.h"
#include "weft/backup.h"
#include "weft/members.h"

static int inside(const uint8_t *p, size_t n, const uint8_t *in, size_t len) {
    return !n || (p >= in && p + n <= in + len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!size) return 0;
    const uint8_t *in = data + 1;
    size_t len = size - 1;
    if (data[0] == 0) {
        weft_backup_header h;
        if (weft_backup_header_decode(&h, in, len)) return 0;
        FUZZ_ASSERT(h.version == WEFT_BACKUP_VERSION && h.opslimit >= 1 &&
                    h.opslimit <= WEFT_BACKUP_MAX_OPSLIMIT &&
                    h.memlimit <= WEFT_BACKUP_MAX_MEMLIMIT);
        FUZZ_ASSERT(inside(h.salt, WEFT_PWHASH_SALTBYTES, in, len) &&
                    inside(h.nonce, WEFT_AEAD_NPUBBYTES, in, len));
        FUZZ_ASSERT(h.header_len + WEFT_AEAD_ABYTES <= len);
    } else if (data[0] == 1) {
        weft_backup b;
        if (weft_backup_decode(&b, in, len)) return 0;
        FUZZ_ASSERT(b.n_keys >= 1 && b.n_keys <= WEFT_BACKUP_MAX_KEYS);
        FUZZ_ASSERT(
            inside(b.keys, 32 * b.n_keys, in, len) && inside(b.token, b.token_len, in, len) &&
            inside(b.records, b.records_len, in, len) && inside(b.level, b.level_len, in, len) &&
            inside((const uint8_t *)b.relay, b.relay_len, in, len));
        FUZZ_ASSERT(!b.has_owner || memcmp(b.owner_sk + 32, b.space, 32) == 0);
        size_t off = 0;
        while (off < b.records_len) {
            weft_member_record r;
            size_t used = 0;
            FUZZ_ASSERT(weft_member_record_decode_prefix(&r, b.records + off, b.records_len - off,
                                                         &used) == 0 &&
                        used > 0);
            off += used;
        }
        FUZZ_ASSERT(off == b.records_len);
    }
    return 0;
}
