-- FerretDB v1 on PostgreSQL filters a pushed-down equality as `_jsonb->'field' @> value`, which
-- the B-tree indexes it creates for MongoDB indexes cannot serve: every query, `_id` included,
-- read the whole table (a web answer's checkpoint took 2.9 s at 800,000 messages). This adds, for
-- every FerretDB collection, a GIN (jsonb_path_ops) index on `_id` and on each top-level field of
-- its MongoDB indexes, which serves exactly that operator; an event trigger does it for every
-- collection and index FerretDB creates later. Local infrastructure only: MongoDB needs none of it.
-- Idempotent (infra.sh runs it at every start, in the `ferretdb` database).

CREATE OR REPLACE FUNCTION tessera_ferretdb_gin_for_table(tbl oid) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  target record;
  field text;
BEGIN
  SELECT n.nspname AS schema_name, c.relname AS table_name INTO target
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.oid = tbl AND c.relkind = 'r';
  IF NOT FOUND OR NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = tbl AND attname = '_jsonb' AND NOT attisdropped) THEN
    RETURN;
  END IF;
  FOR field IN
    SELECT '_id'
    UNION
    SELECT m[1] FROM pg_index i, regexp_matches(pg_get_indexdef(i.indexrelid), '\(_jsonb -> ''([^'']+)''::text\)', 'g') AS m
     WHERE i.indrelid = tbl AND pg_get_indexdef(i.indexrelid) LIKE '%USING btree%'
  LOOP
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I.%I USING gin ((_jsonb -> %L) jsonb_path_ops)',
                   'gin_' || left(md5(tbl::text || '/' || field), 20), target.schema_name, target.table_name, field);
  END LOOP;
END
$fn$;

CREATE OR REPLACE FUNCTION tessera_ferretdb_gin_on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $fn$
DECLARE
  cmd record;
BEGIN
  -- Our own CREATE INDEX fires this trigger again: nothing to do then.
  IF current_setting('tessera.adding_gin', true) = 'on' THEN
    RETURN;
  END IF;
  PERFORM set_config('tessera.adding_gin', 'on', true);
  FOR cmd IN SELECT * FROM pg_event_trigger_ddl_commands() WHERE command_tag IN ('CREATE TABLE', 'CREATE INDEX') LOOP
    IF cmd.command_tag = 'CREATE TABLE' THEN
      PERFORM tessera_ferretdb_gin_for_table(cmd.objid);
    ELSE
      PERFORM tessera_ferretdb_gin_for_table((SELECT indrelid FROM pg_index WHERE indexrelid = cmd.objid));
    END IF;
  END LOOP;
  PERFORM set_config('tessera.adding_gin', 'off', true);
END
$fn$;

DROP EVENT TRIGGER IF EXISTS tessera_ferretdb_gin;
CREATE EVENT TRIGGER tessera_ferretdb_gin ON ddl_command_end WHEN TAG IN ('CREATE TABLE', 'CREATE INDEX')
  EXECUTE FUNCTION tessera_ferretdb_gin_on_ddl();

-- Collections made before this script ran.
SELECT tessera_ferretdb_gin_for_table(a.attrelid)
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
 WHERE a.attname = '_jsonb' AND c.relkind = 'r' AND NOT a.attisdropped;
