#!/usr/bin/env bash
# Backup and restore drill, exactly as docs/operations.md ("Backup and restore") describes it:
#
#   1. back up the database (pg_dump -Fc), then the stored files (tar of MLGOV_MEDIA_ROOT);
#   2. restore both into fresh places: a new database <db>_restored on the same server, and a
#      new folder;
#   3. prove the copy is whole: every migration applied, the same tables with the same row
#      counts, the same files with the same bytes (each content-addressed file still hashing to
#      its name, each file a record names present), and the audit trail's hash chain intact
#      (manage.py verify_audit_trail) with the same head as the original;
#   4. drop the restored database and the scratch folder, whatever happened.
#
# Usage:
#   DATABASE_URL=postgres://user@host:5432/mlgov [MLGOV_MEDIA_ROOT=/srv/mlgov/media] \
#     scripts/backup_restore_check.sh
#
# RESTORED_DB names the scratch database (default <db>_restored): this check owns that name and
# drops a copy a killed run left behind. The role needs CREATEDB. CHECK_ROW_COUNTS=0 skips the
# row-count comparison (for a database that is being written to while the check runs).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-.venv/bin/python}
: "${DATABASE_URL:?set DATABASE_URL to the PostgreSQL database to back up}"
case "$DATABASE_URL" in
  postgres://* | postgresql://*) ;;
  *) echo "backup_restore_check: DATABASE_URL must be a PostgreSQL URL" >&2; exit 2 ;;
esac
for tool in pg_dump pg_restore psql tar sha256sum; do
  command -v "$tool" >/dev/null || { echo "backup_restore_check: $tool is missing" >&2; exit 2; }
done

# postgres://user@host:port/db?options -> server part, database name, options.
base=${DATABASE_URL%%\?*}
options=${DATABASE_URL:${#base}}
server=${base%/*}
source_db=${base##*/}
RESTORED_DB=${RESTORED_DB:-${source_db}_restored}
if [[ -z "$source_db" || "$RESTORED_DB" == "$source_db" ]]; then
  echo "backup_restore_check: cannot tell the source database from the restored one" >&2
  exit 2
fi
RESTORED_URL="$server/$RESTORED_DB$options"
ADMIN_URL="$server/postgres$options"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mlgov-backup-check.XXXXXX")
drop_restored() {
  psql "$ADMIN_URL" -q -c "SET client_min_messages = warning" \
    -c "DROP DATABASE IF EXISTS \"$RESTORED_DB\""
}
cleanup() {
  drop_restored >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '\n--- %s\n' "$1"; }
manage() { "$PY" manage.py "$@"; }

# Where the files are: MLGOV_MEDIA_ROOT, or what the settings say. Only a file-system storage
# can be copied here; an object store is backed up by its own versioning (see the docs).
read -r storage_is_local media_root < <(manage shell --no-imports -v 0 -c "
from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
print(isinstance(default_storage, FileSystemStorage), settings.MEDIA_ROOT)")
if [[ "$storage_is_local" != "True" ]]; then
  echo "backup_restore_check: MLGOV_FILE_STORAGE is not a file-system storage; back the" \
       "bucket up with its versioning and run this check with a local copy" >&2
  exit 2
fi
mkdir -p "$media_root"

# Row counts of every table, in one statement (same order on both sides).
count_rows() {
  psql "$1" -Atc "
    SELECT table_name || ' ' || (xpath('/row/n/text()', query_to_xml(
             format('SELECT count(*) AS n FROM %I.%I', table_schema, table_name),
             false, true, '')))[1]::text
      FROM information_schema.tables
     WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
     ORDER BY table_name"
}
# sha256 and path of every stored file, relative to the storage root.
manifest() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum); }

step "1. back up: database (pg_dump -Fc), then files (tar of $media_root)"
pg_dump --format=custom --file="$WORK/mlgov.dump" "$DATABASE_URL"
tar -C "$media_root" -czf "$WORK/media.tar.gz" .
source_chain=$(manage verify_audit_trail)
[[ "${CHECK_ROW_COUNTS:-1}" == 0 ]] || count_rows "$DATABASE_URL" >"$WORK/rows.source"
manifest "$media_root" >"$WORK/files.source"
echo "database: $(du -h "$WORK/mlgov.dump" | cut -f1), files: $(wc -l <"$WORK/files.source")" \
     "($(du -h "$WORK/media.tar.gz" | cut -f1) compressed); source chain: $source_chain"

step "2. restore into a fresh database ($RESTORED_DB) and a fresh folder"
drop_restored
psql "$ADMIN_URL" -qc "CREATE DATABASE \"$RESTORED_DB\""
pg_restore --exit-on-error --dbname="$RESTORED_URL" "$WORK/mlgov.dump"
mkdir "$WORK/media"
tar -C "$WORK/media" -xzf "$WORK/media.tar.gz"

step "3. verify the restored copy"
export DATABASE_URL="$RESTORED_URL" MLGOV_MEDIA_ROOT="$WORK/media"
manage migrate --check >/dev/null
echo "migrations: all applied"

if [[ "${CHECK_ROW_COUNTS:-1}" != 0 ]]; then
  count_rows "$RESTORED_URL" >"$WORK/rows.restored"
  diff -u "$WORK/rows.source" "$WORK/rows.restored" >&2
  echo "tables: $(wc -l <"$WORK/rows.restored"), same row counts"
fi

manifest "$WORK/media" >"$WORK/files.restored"
diff -u "$WORK/files.source" "$WORK/files.restored" >&2
manage shell --no-imports -v 0 -c "
import hashlib
import re
import sys

from django.apps import apps
from django.core.files.storage import default_storage

# Stored files are named by their SHA-256; records hold those names in these fields.
NAMED_BY = [('registry.ModelVersion', 'artifact'), ('registry.DatasetVersion', 'file'),
            ('threats.Evidence', 'file')]
CONTENT_NAME = re.compile(r'[0-9a-f]{64}')
problems, checked = [], 0
for label, field in NAMED_BY:
    try:
        model = apps.get_model(label)
    except LookupError:
        continue
    for name in model.objects.exclude(**{field: ''}).values_list(field, flat=True):
        checked += 1
        if not default_storage.exists(name):
            problems.append(f'{label}.{field}: {name} is missing')
            continue
        digest = hashlib.sha256()
        with default_storage.open(name, 'rb') as stored:
            for chunk in iter(lambda: stored.read(1 << 20), b''):
                digest.update(chunk)
        leaf = name.rsplit('/', 1)[-1]
        if CONTENT_NAME.fullmatch(leaf) and digest.hexdigest() != leaf:
            problems.append(f'{label}.{field}: {name} does not hash to its name')
if problems:
    sys.exit('\n'.join(problems))
print(f'files: {checked} named by records, all present and matching their content hash')
"

restored_chain=$(manage verify_audit_trail)
echo "restored chain: $restored_chain"
if [[ "$restored_chain" != "$source_chain" ]]; then
  echo "backup_restore_check: the restored chain differs from the original" >&2
  exit 1
fi

step "backup/restore check: OK ($source_db -> $RESTORED_DB, dropped on exit)"
