/*
 * `weft backup DIR` and `weft restore FILE DIR`: a replica's keys sealed
 * under a passphrase (weft/backup.h; the same text weftdb's space.backup()
 * makes and restoreSpace reads), and a new replica from one. The restored
 * replica writes under a new author key holding the backed-up rights
 * (docs/SECURITY.md "Key backup"), so the backed-up replica may go on.
 *
 * The passphrase comes from --passphrase-file FILE (its first line), else
 * the WEFT_PASSPHRASE environment variable, else the first line of stdin.
 * Both return the CLI's exit codes (0, 2 usage, 3 bad input).
 */
#ifndef WEFT_CLI_BACKUPCMD_H
#define WEFT_CLI_BACKUPCMD_H

int cmd_backup(int argc, char **argv);
int cmd_restore(int argc, char **argv);

#endif
