-- runner-role.sql: batch_runner, a group role with exactly what a runner
-- (SimpleBatchRunner) needs, and a login that is a member of it.
--
-- Run it after the migrations, as a superuser (or a role with CREATEROLE
-- that is a member of batch_owner and may grant SELECT on the purchasing
-- tables), and again after any migration that adds or recreates a table:
--
--   psql "$ADMIN_URL" -v ON_ERROR_STOP=1 \
--        -v login=runner1 -v password="$RUNNER1_PASSWORD" \
--        -f DataLayer/roles/runner-role.sql
--
-- Every statement before the last one may be run again: the role is
-- created only when absent, and each table's grants are revoked and
-- granted again in one transaction, so what batch_runner holds is exactly
-- what this file says, even if someone granted more by hand. The last
-- statement creates the login and fails if it exists; run the file with
-- another `login` to add a runner. The password is a psql variable, never
-- in this file (see owner-role.sql on \password).
--
-- What a runner does, and what each step needs:
--
-- * start-up: SELECT to_regclass('blog.batchjob'): USAGE on schema blog.
-- * claim: SELECT ... FROM batchjob FOR UPDATE SKIP LOCKED: SELECT, and
--   UPDATE on at least one column, which FOR UPDATE requires.
-- * record: UPDATE batchjob SET status, runnerid, startedat, stoppedat,
--   lasterror, notbefore ... WHERE id = ... AND status = ...: UPDATE on
--   those six columns only, SELECT on the two it reads.
-- * count an attempt: INSERT INTO batchjobattempt ... ON CONFLICT (taskid)
--   DO UPDATE SET attempts = attempt.attempts + 1, runnerid =
--   excluded.runnerid, ... RETURNING taskid, attempts: INSERT, UPDATE, and
--   SELECT on the conflict target, every column read (excluded.* included)
--   and what RETURNING returns. Refunding one is an UPDATE of it.
-- * heartbeat: INSERT INTO runnerheartbeat ... ON CONFLICT (runnerid)
--   DO UPDATE SET host = excluded.host, ...: the same three.
-- * the example task: SELECT on purchaseorderheader and purchaseorderdetail;
--   INSERT into summedsalesresult, with neither RETURNING nor ON CONFLICT,
--   so no SELECT there. (ON CONFLICT (taskid) would need SELECT (taskid),
--   and RETURNING, SELECT on what it returns.)
-- * time limits: set_config('statement_timeout') needs nothing, and
--   pg_cancel_backend on the runner's other session needs nothing either,
--   as both sessions belong to the same login.
--
-- Refused, with SQLSTATE 42501, because nothing grants it: DELETE and
-- TRUNCATE anywhere; INSERT into batchjob; UPDATE of what a task is
-- (classname, contractname, contractjson, maxattempts, timeoutms); the
-- migration history; the results; writes to purchasing; CREATE in any
-- schema or database. Before PostgreSQL 15, PUBLIC may CREATE in schema
-- public; on such a server run REVOKE CREATE ON SCHEMA public FROM PUBLIC.
-- purchasing.vendor is not granted either, as the example task does not
-- read it. Grant what your own tasks read and write below.

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'batch_runner') THEN
    CREATE ROLE batch_runner NOLOGIN;
  END IF;
END
$$;

-- PUBLIC usually holds CONNECT; this keeps runners working where a DBA
-- revoked it.
DO $$
BEGIN
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO batch_runner',
                 current_database());
END
$$;

BEGIN;

GRANT USAGE ON SCHEMA blog, purchasing TO batch_runner;

-- REVOKE ALL on a table takes its column privileges too.
REVOKE ALL ON TABLE
  blog.batchjob,
  blog.batchjobattempt,
  blog.runnerheartbeat,
  blog.summedsalesresult,
  purchasing.purchaseorderheader,
  purchasing.purchaseorderdetail
FROM batch_runner;

-- A runner may change how a task ended, never what the task is.
GRANT SELECT ON TABLE blog.batchjob TO batch_runner;
GRANT UPDATE (status, runnerid, startedat, stoppedat, lasterror, notbefore)
  ON TABLE blog.batchjob TO batch_runner;

-- Committed on a second connection as soon as a task is claimed.
GRANT SELECT, INSERT, UPDATE ON TABLE blog.batchjobattempt TO batch_runner;

-- Each runner's own record of itself, written every few seconds.
GRANT SELECT, INSERT, UPDATE ON TABLE blog.runnerheartbeat TO batch_runner;

-- The example task's results, and what it reads.
GRANT INSERT ON TABLE blog.summedsalesresult TO batch_runner;
GRANT SELECT ON TABLE
  purchasing.purchaseorderheader,
  purchasing.purchaseorderdetail
TO batch_runner;

COMMIT;

CREATE ROLE :"login" LOGIN PASSWORD :'password' IN ROLE batch_runner;
