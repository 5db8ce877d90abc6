/*
 * `weft sync DIR [--relay URL]`: brings a replica directory and a relay to
 * the same changes over the relay's REST log API (docs/RELAY.md): pages of
 * GET /v1/spaces/{id}/changes?after=N from the cursor saved last time, then
 * POSTs of this replica's own changes the relay may lack (a diff against the
 * version vector saved after the last successful sync; the relay takes a
 * change only from a token granted to its author). The cursor and vector live
 * in DIR/sync.state; a failed sync changes neither, so it can be repeated.
 * An empty replica first fetches the relay's newest sealed snapshot (GET
 * /v1/spaces/{id}/snapshot), checks its publisher's admin token, keeps it
 * as DIR/snapshot.weft and loads it, then pulls only what follows it.
 * --admission TOKEN sends a relay operator's admission (weft-relay --admit
 * signed:KEY; `weft admission issue`) as the Weft-Admission header. Plain
 * http:// (or ws://, the same port) only: put TLS in front of a relay
 * with a reverse proxy and sync from inside, or use weftdb in the browser.
 */
#ifndef WEFT_CLI_SYNC_H
#define WEFT_CLI_SYNC_H

int cmd_sync(int argc, char **argv);

/* `weft snapshot publish DIR [--relay URL]`: uploads a sealed snapshot of
 * the replica's state (an admin's only; docs/CLI.md). */
int cmd_snapshot(int argc, char **argv);

/* `weft level raise DIR N [--relay URL]`: signs a level record (FORMAT.md
 * §10) as the owner, or as an admin under its token or, admitted by grant,
 * its grant chain, and sends it to the relay (docs/CLI.md). */
int cmd_level(int argc, char **argv);

/* `weft space delete DIR [--relay URL] [--yes]`: DELETE /v1/spaces/{id} on
 * the relay with the replica's admin token and a proof; asks for the space
 * id to be typed unless --yes (docs/CLI.md). */
int cmd_space_delete(int argc, char **argv);

#include "spacedir.h"

/* Sends membership records to sd's relay as the key of secret `sk` (64
 * bytes), admitted by its grants: what a replica restored from a member
 * admitted by grant does, whose new key holds no grant yet (its link, and
 * from an admin a grant, signed by the backed-up key; SECURITY.md "Key
 * backup"). Returns 0 (each stored, or held already), 1 (the relay could
 * not be reached or failed) or 3 (it refused them), with err. */
int sync_deliver_as(const spacedir *sd, const uint8_t *sk, const uint8_t *recs, size_t len,
                    char *err, size_t err_cap);

#endif
