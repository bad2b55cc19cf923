"""PostgreSQL side of the audit trail: append-only rows, and the one-round-trip append.

1. A trigger refuses every UPDATE and DELETE on audit entries, for every role, the
   application's included (disabling it needs table ownership: see docs/operations.md for the
   production role set-up). TRUNCATE is left to privileges rather than a trigger, because the
   test runner empties tables between transactional tests with TRUNCATE; production revokes it.
2. `audit_chain_lock()` serialises appends with a transaction-scoped advisory lock, held until
   the caller's transaction ends; `audit_entry_append(...)` takes it, reads the last entry and
   inserts the next one with its link hash (the formula of apps.audit.chain.chain_hash), in one
   statement from the application. Under READ COMMITTED each statement inside the function
   sees what committed before the lock was granted, so the chain never forks.
3. A BRIN index on the timestamp for date-range filters (cheaper to maintain than a B-tree).
Other databases (SQLite, the embedded profile) get none of this: apps.audit.services appends
under SQLite's write lock, and the chain still shows tampering.
"""

from django.db import migrations

TABLE = "audit_auditentry"
LOCK_KEY = 7_236_828_473_790_522_689  # any constant: identifies "the audit chain" among locks

CREATE = f"""
CREATE OR REPLACE FUNCTION audit_entry_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit entries are append-only: % refused on %', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION audit_entry_refuse_change();

CREATE OR REPLACE FUNCTION audit_chain_lock() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'audit entries are appended under READ COMMITTED isolation, not %',
            current_setting('transaction_isolation');
    END IF;
    PERFORM pg_advisory_xact_lock({LOCK_KEY});
END
$$;

CREATE OR REPLACE FUNCTION audit_entry_append(
    p_content_hash text, p_timestamp timestamptz, p_actor_id bigint, p_actor_name text,
    p_actor_role text, p_action text, p_object_type text, p_object_id text,
    p_object_repr text, p_team_id bigint, p_changes text, p_ip text, p_request_id text,
    p_interface text, OUT seq bigint, OUT prev_hash text, OUT hash text
) LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'audit entries are appended under READ COMMITTED isolation, not %',
            current_setting('transaction_isolation');
    END IF;
    PERFORM pg_advisory_xact_lock({LOCK_KEY});  -- audit_chain_lock(), inlined: one call less
    SELECT e.seq, e.hash INTO seq, prev_hash FROM {TABLE} AS e ORDER BY e.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        seq := 0;
        prev_hash := repeat('0', 64);
    END IF;
    seq := seq + 1;
    hash := encode(sha256(convert_to(prev_hash || ':' || seq::text || ':' || p_content_hash,
                                     'UTF8')), 'hex');
    INSERT INTO {TABLE} (seq, prev_hash, hash, "timestamp", actor_id, actor_name, actor_role,
                         action, object_type, object_id, object_repr, team_id, changes, ip,
                         request_id, interface)
    VALUES (seq, prev_hash, hash, p_timestamp, p_actor_id, p_actor_name, p_actor_role,
            p_action, p_object_type, p_object_id, p_object_repr, p_team_id, p_changes, p_ip,
            p_request_id, p_interface);
END
$$;

-- Entries are written in time order: a BRIN index serves date ranges at almost no write cost.
CREATE INDEX audit_entry_timestamp_brin ON {TABLE} USING brin ("timestamp");
"""

DROP = f"""
DROP INDEX IF EXISTS audit_entry_timestamp_brin;
DROP FUNCTION IF EXISTS audit_entry_append(text, timestamptz, bigint, text, text, text, text,
    text, text, bigint, text, text, text, text);
DROP FUNCTION IF EXISTS audit_chain_lock();
DROP TRIGGER IF EXISTS audit_entry_append_only ON {TABLE};
DROP FUNCTION IF EXISTS audit_entry_refuse_change();
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)  # no %-interpolation: plpgsql uses %

    return run


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP), elidable=False),
    ]
