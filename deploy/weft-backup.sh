#!/bin/sh
# Copies a running weft-relay's data directory (file storage) to DEST, with
# no pause: deploy/README.md "Backups" says why the copy is consistent.
#
#   deploy/weft-backup.sh /var/lib/weft-relay /backups/weft-$(date +%F)
#
# Per space, the directory is listed once and its files copied oldest
# first: sealed segments never change; the active one may grow while it is
# copied (its copy may end in a torn record, which the relay cuts when it
# opens the restored space); segments and snapshots made after the listing
# are left out. So each space's copy is a prefix of its log as it was at
# some moment during the copy, holding everything acked before the copy
# started. Snapshots are written to snap.tmp and renamed, so a listed one
# is whole; one deleted meanwhile (only the two newest are kept) is skipped.
set -eu
[ $# -eq 2 ] || { echo "usage: weft-backup.sh DATA_DIR DEST" >&2; exit 2; }
src=$1
dst=$2
[ -d "$src" ] || { echo "weft-backup: no directory $src" >&2; exit 2; }
mkdir -p "$dst"
spaces=0
for dir in "$src"/*/; do
  [ -d "$dir" ] || continue
  space=$(basename "$dir")
  mkdir -p "$dst/$space"
  # The listing, then the copies (a file gone meanwhile: the space was
  # deleted, or an old snapshot pruned).
  ls "$dir" | sort > "$dst/$space.list"
  while read -r f; do
    case $f in
    *.tmp) ;;
    *) cp -p "$dir$f" "$dst/$space/$f" 2>/dev/null || [ ! -e "$dir$f" ] ;;
    esac
  done < "$dst/$space.list"
  rm -f "$dst/$space.list"
  spaces=$((spaces + 1))
done
sync -f "$dst" 2>/dev/null || sync
echo "weft-backup: $spaces spaces copied to $dst"
