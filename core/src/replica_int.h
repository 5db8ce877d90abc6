/*
 * The replica's internals, shared by replica.c (writes, merges, reads) and
 * snapshot.c (serializing and restoring it).
 */
#ifndef WEFT_REPLICA_INT_H
#define WEFT_REPLICA_INT_H

#include "weft/replica.h"
#include "state.h"

/* Op codes in change bodies (docs/FORMAT.md, "Ops"). */
enum {
    OP_PUT = 1,
    OP_DELETE_DOC = 2,
    OP_DELETE_FIELD = 3,
    OP_COUNTER_ADD = 4,
    OP_TEXT_INSERT = 5,
    OP_TEXT_DELETE = 6,
    OP_LIST_INSERT = 7, /* level WEFT_LEVEL_LISTS, docs/LISTS.md */
    OP_LIST_DELETE = 8,
    OP_LIST_MOVE = 9,
    OP_LIST_SET = 10,
    OP_MARK_ADD = 11, /* level WEFT_LEVEL_MARKS, docs/TEXT.md "Marks" */
    OP_MARK_REMOVE = 12,
};

#define WEFT_MAX_NAME_BYTES 255
#define WEFT_MAX_KEY_BYTES  1024

typedef struct wop {
    uint8_t code;
    uint32_t coll, field; /* indices into the change's name table */
    const uint8_t *doc;
    uint32_t doc_len;
    const uint8_t *val;
    uint32_t vlen;
    int64_t delta;
    uint64_t obs_lamport;
    uint32_t obs_ref; /* 0: the change's author, k: the change's author table [k-1] */
    uint32_t tag;     /* the document's hash tag, computed before merging */
    /* text ops: author refs as obs_ref (0 the change's author, k the author
     * table's [k-1]); origins 1 + ref, 0 for none; the text in val/vlen */
    uint32_t t_author, t_seq, t_len, t_left, t_lseq, t_right, t_rseq;
    /* list ops: the item (1 + author ref, its seq); the value in val/vlen */
    uint32_t l_item, l_iseq;
    /* mark ops: the range's start and end in t_left/t_lseq and
     * t_right/t_rseq (as origins), the value in val/vlen */
    uint64_t m_lamport;
    uint8_t m_sides;
    const uint8_t *m_type;
    uint32_t m_type_len;
} wop;

/* One op of the open transaction. Ops on one document are chained (prev)
 * through the transaction's document index, so a replace, a counter add or
 * a text edit finds the earlier ops on its document without a scan. */
typedef struct txn_rec {
    uint8_t code;
    uint8_t flags;        /* TXN_REC_* */
    uint32_t coll, field; /* state names; field UINT32_MAX for a document delete */
    size_t doc_off;       /* into txn_ops */
    uint32_t doc_len;
    uint32_t tag;  /* the document's hash tag */
    uint32_t prev; /* 1 + index of the previous op with the same tag, 0 none */
} txn_rec;

enum {
    TXN_REC_TEXT = 1,    /* a text op, or the delete that turns a string into a text */
    TXN_REC_REPLACE = 2, /* the first op a replace (weft_replica_write_ops) made */
};

/* A slot of the transaction's document index: tag -> its newest op. Slots
 * of another generation are empty, so clearing the index is gen++. */
typedef struct txn_slot {
    uint32_t tag, last, gen; /* last: 1 + op index, 0 none */
} txn_slot;

struct weft_replica {
    const weft_allocator *a; /* the caller's; outlives the replica */
    uint8_t space[32], author[32];
    const weft_crypto *crypto;
    int keep_records;
    size_t max_pending_bytes;
    const uint8_t *hash_key; /* r->hash_key_buf or NULL (weft_replica_config) */
    uint8_t hash_key_buf[16];
    weft_touched_fn on_touched;
    weft_text_changed_fn on_text;
    void *ud;
    weft_log *log;
    weft_state state;
    uint64_t clock;        /* greatest op id seen */
    uint32_t format_level; /* the space's format level as known here (>= 1) */
    int broken;            /* an allocation failed mid-merge: refuse further use */

    /* the open transaction */
    uint64_t txn_lamport; /* id of its first op; 0 when none is open */
    uint32_t txn_n;
    int txn_text; /* holds text edits (already made: never rolled back) */
    int signs;    /* the crypto table signed once: this replica can commit */
    wbuf txn_ops;
    uint32_t *txn_names; /* state names in table order */
    size_t n_txn_names, cap_txn_names;
    uint32_t *name_slot; /* state name -> 1 + table index, for this txn */
    size_t cap_name_slot;
    uint32_t *txn_authors; /* log authors referenced by counter adds */
    size_t n_txn_authors, cap_txn_authors;
    txn_rec *txn_recs;
    size_t n_txn_recs, cap_txn_recs;
    txn_slot *txn_slots; /* power-of-two sized, at most half full */
    size_t cap_txn_slots, n_txn_slots;
    uint32_t txn_gen;
    /* scratch of weft_replica_write_ops: a document's fields, and the
     * fields a replace found */
    struct ops_field {
        uint32_t name;
        uint32_t vlen;
        const uint8_t *val;
    } * scr_fields;
    size_t cap_scr_fields;
    uint32_t *scr_seen, *scr_del;
    size_t cap_scr_seen, cap_scr_del;
    /* The last collection and field names seen by local writes: apps write
     * the same few names over and over, and a hit skips validation and
     * interning. */
    struct name_cache {
        uint32_t len, name;
        char bytes[32];
    } recent[2];
    /* The last target txn_conflicts found free of conflicts, and how many
     * ops the transaction held then (0: none cached). */
    struct conflict_cache {
        uint32_t coll, field, upto;
        size_t doc_len;
        uint8_t doc[64];
    } conflict;
    uint64_t *dep_seen; /* per author: seq named by this replica's last commit */
    size_t cap_dep_seen;

    /* scratch and borrowed outputs */
    wop *ops;
    size_t cap_ops;
    uint32_t *map_names, *map_authors;
    size_t cap_map_names, cap_map_authors;
    wbuf plain;                 /* an opened body */
    wbuf out;                   /* last commit's record */
    wbuf vv;                    /* last version vector */
    wbuf diff;                  /* last diff */
    wbuf docbuf;                /* last get_doc */
    wbuf snap;                  /* last snapshot */
    wbuf sealed;                /* last sealed snapshot (weft_replica_publish_snapshot) */
    const uint8_t **seen_names; /* body decoding */
    size_t *seen_name_lens;
    size_t cap_seen_names, cap_seen_lens;
};

/* Applies one decoded READY change (checks signature, opens, merges,
 * commits). plain: the change's body already in clear (our own commit, which
 * skips verifying and opening), or NULL. */
/* The format level an op code belongs to (UINT32_MAX: no such code). */
uint32_t weft__op_level(uint8_t code);

int weft__replica_merge(weft_replica *r, const weft_change *c, const uint8_t *plain,
                        size_t plain_len);

/* weft_replica_load_snapshot that also refuses (WEFT_EUNCOVERED, the
 * replica unchanged) a snapshot whose version vector is not exactly
 * want_vv; want_vv NULL skips that check. */
int weft__replica_load_snapshot(weft_replica *r, const uint8_t *snap, size_t len,
                                const uint8_t *want_vv, size_t want_vv_len);

#endif
