-- owner-role.sql: batch_owner, the group role that owns schema blog and
-- runs the migrations, the sample loader and the client (Batch.Client:
-- queue, follow, report, failures, status), and a login that acts as it.
--
-- Run it once per database, before the first migration, as a superuser
-- (granting pg_read_all_stats takes one):
--
--   psql "$ADMIN_URL" -v ON_ERROR_STOP=1 \
--        -v login=batch_migrator -v password="$MIGRATOR_PASSWORD" \
--        -f DataLayer/roles/owner-role.sql
--
-- Then migrate and queue as that login, and run runner-role.sql. Every
-- statement before the last section may be run again: roles are created
-- only when absent and GRANT, ALTER ... OWNER are no-ops when already true.
-- The last section creates the login and fails if it exists; run it again
-- with another `login` to add a second one.
--
-- The password is a psql variable, never in this file. It still reaches the
-- server as text (and the server log, with log_statement = 'ddl'); to avoid
-- that, create the login with a throwaway password and set the real one
-- with psql's \password, which sends only a SCRAM hash.

-- batch_owner owns what the migrations create. It cannot log in: logins are
-- members that take on its identity, so that every table belongs to one
-- role however many people or deployments run migrations.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'batch_owner') THEN
    CREATE ROLE batch_owner NOLOGIN;
  END IF;
END
$$;

-- CREATE on the database, because migrate() runs CREATE SCHEMA IF NOT
-- EXISTS blog every time and PostgreSQL checks that privilege before it
-- looks whether the schema exists; the sample loader also creates schema
-- purchasing when it is absent. Both need nothing more of the database.
DO $$
BEGIN
  EXECUTE format('GRANT CONNECT, CREATE ON DATABASE %I TO batch_owner',
                 current_database());
END
$$;

-- Schema blog, owned by batch_owner; and if migrations already ran as
-- someone else, its tables (with their indexes and identity sequences)
-- change hands too, so the client can TRUNCATE them and later migrations
-- can ALTER them.
CREATE SCHEMA IF NOT EXISTS blog AUTHORIZATION batch_owner;
ALTER SCHEMA blog OWNER TO batch_owner;
DO $$
DECLARE
  item record;
BEGIN
  FOR item IN
    SELECT c.oid::regclass AS name
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'blog' AND c.relkind IN ('r', 'p')
      AND c.relowner <> 'batch_owner'::regrole
  LOOP
    EXECUTE format('ALTER TABLE %s OWNER TO batch_owner', item.name);
  END LOOP;
END
$$;

-- The client reads the purchasing tables: vendor ids to queue, and all
-- three to check the results. They are yours, so only SELECT, and only on
-- those that exist: when they are absent, the sample loader run as this
-- role creates them, owned by batch_owner.
DO $$
DECLARE
  name text;
BEGIN
  IF to_regnamespace('purchasing') IS NULL THEN
    RAISE NOTICE 'Schema purchasing is absent: the sample loader creates it';
    RETURN;
  END IF;
  GRANT USAGE ON SCHEMA purchasing TO batch_owner;
  FOREACH name IN ARRAY ARRAY[
    'purchasing.vendor',
    'purchasing.purchaseorderheader',
    'purchasing.purchaseorderdetail'
  ] LOOP
    IF to_regclass(name) IS NOT NULL THEN
      EXECUTE format('GRANT SELECT ON TABLE %s TO batch_owner',
                     to_regclass(name));
    END IF;
  END LOOP;
END
$$;

-- The status command tells tasks in progress from pg_stat_activity, where
-- PostgreSQL shows another role's xact_start only to pg_read_all_stats.
-- That role reads every session's statistics and query text in the
-- cluster, nothing else; leave this out and status counts running tasks
-- as pending. Granting it takes a superuser.
GRANT pg_read_all_stats TO batch_owner;

-- No ALTER DEFAULT PRIVILEGES here, on purpose. Default privileges apply
-- to every table batch_owner creates in blog, so any grant made this way
-- is the union of what runners need on any table, handed out on every
-- future one, the migration history included. runner-role.sql names each
-- table instead; run it again after a migration that adds one (the test
-- test/SimpleBatchRunner/leastPrivilege.test.ts fails until it names it).

-- A login for migrations and the client. `SET role` at login makes its
-- sessions act as batch_owner, so what it creates belongs to batch_owner,
-- not to the login.
CREATE ROLE :"login" LOGIN PASSWORD :'password' IN ROLE batch_owner;
ALTER ROLE :"login" SET role = 'batch_owner';
