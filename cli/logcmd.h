/*
 * `weft log inspect|verify|export`: reads change records from a replica
 * directory (its changes.weft) or any file of records back to back, and
 * prints or checks them. Verification needs no key: framing, each author's
 * hash chain (consecutive seqs, prev = hash of the previous change, no
 * forks) and, for suite V1, the author's signature; in a replica directory
 * it also replays everything with the content key.
 */
#ifndef WEFT_CLI_LOGCMD_H
#define WEFT_CLI_LOGCMD_H

int cmd_log(int argc, char **argv);

#endif
