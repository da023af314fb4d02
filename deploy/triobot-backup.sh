#!/bin/sh
# The nightly backup: `triobot backup` into $TRIOBOT_BACKUP_DIR/triobot-YYYYMMDD.db (UTC
# date; a second run the same day replaces that day's file), then backups older than
# $TRIOBOT_BACKUP_KEEP_DAYS days deleted. Old backups are deleted only after a new one was
# made: a failing backup leaves every earlier one in place. Run by triobot-backup.service;
# by hand: sudo -u triobot /opt/triobot/src/deploy/triobot-backup.sh
set -eu
triobot=${1:-/opt/triobot/venv/bin/triobot}
dir=${TRIOBOT_BACKUP_DIR:-/var/lib/triobot/backups}
keep=${TRIOBOT_BACKUP_KEEP_DAYS:-14}
case $keep in
    ''|*[!0-9]*) echo "triobot-backup: TRIOBOT_BACKUP_KEEP_DAYS must be a whole number of days, not '$keep'" >&2; exit 2 ;;
esac
"$triobot" backup "$dir/triobot-$(date -u +%Y%m%d).db"
# -mtime +N: last written more than N whole days ago. .partial files are a killed backup's.
find "$dir" -maxdepth 1 -type f \( -name 'triobot-*.db' -o -name 'triobot-*.db.*.partial' \) \
    -mtime "+$keep" -delete
