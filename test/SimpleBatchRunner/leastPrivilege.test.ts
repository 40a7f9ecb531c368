import { expect } from "chai";
import { spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Client } from "pg";
import type { DataSource } from "typeorm";
import { queueVendorJob } from "../../Batch.Client/queueVendorJob";
import { verifyVendorJob } from "../../Batch.Client/verifyVendorJob";
import { connect } from "../../DataLayer/connect";
import { sqlStateOf } from "../../DataLayer/sqlState";
import { TaskStatus } from "../../DataLayer/TaskStatus";
import { MIGRATIONS_TABLE, readDatabaseSettings } from "../../ormconfig";
import { taskRegistry } from "../../SimpleBatchRunner/tasks";
import { allTasks, CHECKOUT, loadAdventureWorks } from "../support/fixtures";
import {
  childEnvironment,
  createTestDatabase,
  TestDatabase,
} from "../support/testServer";
import { SqlState } from "../../DataLayer/sqlState";

const ROLES_DIR = path.join(CHECKOUT, "DataLayer", "roles");
const OWNER_SCRIPT = path.join(ROLES_DIR, "owner-role.sql");
const RUNNER_SCRIPT = path.join(ROLES_DIR, "runner-role.sql");

/** What the role may not do, each refused for lack of a privilege. */
const REFUSED: readonly (readonly [string, string])[] = [
  [
    "insert into purchasing.vendor",
    "INSERT INTO purchasing.vendor (businessentityid) VALUES (1)",
  ],
  ["create a table in blog", "CREATE TABLE blog.intruder (id integer)"],
  ["create a table in public", "CREATE TABLE public.intruder (id integer)"],
  ["create a schema", "CREATE SCHEMA intruder"],
  ["truncate blog.batchjob", "TRUNCATE blog.batchjob"],
  ["delete from blog.batchjob", "DELETE FROM blog.batchjob"],
  ["delete from blog.batchjobattempt", "DELETE FROM blog.batchjobattempt"],
  [
    "insert into blog.batchjob",
    "INSERT INTO blog.batchjob (classname, contractname, contractjson) " +
      "VALUES ('x', 'y', '{}')",
  ],
  [
    "change which task a row runs",
    "UPDATE blog.batchjob SET classname = 'x', contractjson = '{}'",
  ],
  ["read the results", "SELECT * FROM blog.summedsalesresult"],
  ["read the migration history", `SELECT * FROM blog.${MIGRATIONS_TABLE}`],
  ["read purchasing.vendor", "SELECT * FROM purchasing.vendor"],
];

/** Exactly what runner-role.sql grants batch_runner on tables. */
const RUNNER_PRIVILEGES = [
  "blog.batchjob SELECT",
  "blog.batchjob UPDATE (lasterror)",
  "blog.batchjob UPDATE (notbefore)",
  "blog.batchjob UPDATE (runnerid)",
  "blog.batchjob UPDATE (startedat)",
  "blog.batchjob UPDATE (status)",
  "blog.batchjob UPDATE (stoppedat)",
  "blog.batchjobattempt INSERT",
  "blog.batchjobattempt SELECT",
  "blog.batchjobattempt UPDATE",
  "blog.runnerheartbeat INSERT",
  "blog.runnerheartbeat SELECT",
  "blog.runnerheartbeat UPDATE",
  "blog.summedsalesresult INSERT",
  "purchasing.purchaseorderdetail SELECT",
  "purchasing.purchaseorderheader SELECT",
];

/** RoleNames are this run's role names; roles are cluster-wide. */
interface RoleNames {
  readonly owner: string;
  readonly runner: string;
  readonly ownerLogin: string;
  readonly runnerLogin: string;
}

describe("least-privilege roles", function () {
  this.timeout(120_000);
  const suffix = crypto.randomBytes(4).toString("hex");
  const roles: RoleNames = {
    owner: `batch_owner_${suffix}`,
    runner: `batch_runner_${suffix}`,
    ownerLogin: `batch_migrator_${suffix}`,
    runnerLogin: `runner1_${suffix}`,
  };
  const extraLogins: string[] = [];
  const ownerPassword = crypto.randomBytes(12).toString("hex");
  const runnerPassword = crypto.randomBytes(12).toString("hex");
  let database: TestDatabase;
  let admin: Client;
  let owner: DataSource;
  let runner: Client;
  let queued: number;

  before(async function () {
    database = await createTestDatabase();
    admin = await connectClient(database.url);
    await applyScript(admin, OWNER_SCRIPT, roles, {
      login: roles.ownerLogin,
      password: ownerPassword,
    });

    // Migrations, the sample and the queue, all as the owner's login.
    const ownerUrl = urlAs(database.url, roles.ownerLogin, ownerPassword);
    owner = await connect(readDatabaseSettings({ DATABASE_URL: ownerUrl }));
    await loadAdventureWorks(owner);
    queued = await queueVendorJob(owner, taskRegistry);

    await applyScript(admin, RUNNER_SCRIPT, roles, {
      login: roles.runnerLogin,
      password: runnerPassword,
    });
    runner = await connectClient(runnerUrl());
  });

  after(async function () {
    await runner?.end();
    await owner?.destroy();
    await admin?.end();
    await database?.drop();
    if (database === undefined) return;
    await dropRoles(database.url, [
      ...extraLogins,
      roles.ownerLogin,
      roles.runnerLogin,
      roles.owner,
      roles.runner,
    ]);
  });

  function runnerUrl(): string {
    return urlAs(database.url, roles.runnerLogin, runnerPassword);
  }

  it("makes the group role own what its login creates", async function () {
    const { rows } = await admin.query(
      "SELECT tablename, tableowner FROM pg_tables " +
        "WHERE schemaname = ANY($1) ORDER BY tablename",
      [["blog", "purchasing"]],
    );

    // Four of ours, the history and the three purchasing tables at least.
    expect(rows.length).to.be.at.least(8);
    for (const row of rows) {
      expect(row.tableowner, row.tablename).to.equal(roles.owner);
    }
  });

  it("lets the owner see when a runner's round began", async function () {
    const backend = await runner.query("SELECT pg_backend_pid() AS pid");
    const { pid } = backend.rows[0];
    await runner.query("BEGIN");
    await runner.query("SELECT 1");

    const [session] = await owner.query(
      "SELECT xact_start FROM pg_stat_activity WHERE pid = $1",
      [pid],
    );
    await runner.query("ROLLBACK");

    expect(session.xact_start).to.be.instanceOf(Date);
  });

  it("names every table of schema blog in runner-role.sql", async function () {
    const script = fs.readFileSync(RUNNER_SCRIPT, "utf8");
    const { rows } = await admin.query(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'blog'",
    );

    // A migration that adds a table must decide what runners get on it.
    const unnamed = rows
      .map((row: { tablename: string }) => row.tablename)
      .filter((name) => name !== MIGRATIONS_TABLE)
      .filter((name) => !new RegExp(`\\bblog\\.${name}\\b`).test(script));
    expect(unnamed).to.deep.equal([]);
  });

  it("grants the runner role exactly what the script lists", async function () {
    const granted = await tablePrivileges(admin, roles.runner);

    expect(granted).to.deep.equal(RUNNER_PRIVILEGES);
  });

  it("runs the vendor job to the end as the runner's login", async function () {
    const run = await runProcess(
      ["dist/SimpleBatchRunner/main.js", "--until-empty", "--batch-size", "5"],
      { ...childEnvironment(runnerUrl()), LOG_LEVEL: "warn" },
    );

    expect(run.stderr, "runner's log").to.equal("");
    expect(run.code, run.stderr).to.equal(0);
    expect(queued).to.equal(104);
    const tasks = await allTasks(owner);
    const notDone = tasks
      .filter((task) => task.status !== TaskStatus.Done)
      .map((task) => `${task.id}: ${task.lastError?.split("\n")[0]}`);
    expect(notDone.slice(0, 3), `${notDone.length} not done`).to.deep.equal([]);
    const check = await verifyVendorJob(owner);
    expect(check.problems).to.deep.equal([]);
    expect(check.matching).to.equal(104);
  });

  for (const [what, sql] of REFUSED) {
    it(`refuses to ${what} with 42501`, async function () {
      const refused = await runner.query(sql).then(
        () => undefined,
        (error: unknown) => error,
      );

      expect(refused, `${sql} succeeded`).to.be.instanceOf(Error);
      expect(sqlStateOf(refused), String(refused)).to.equal(
        SqlState.InsufficientPrivilege,
      );
    });
  }

  it("runs both scripts again to add logins, same grants", async function () {
    const before = await tablePrivileges(admin, roles.runner);
    const logins = {
      owner: `${roles.ownerLogin}_2`,
      runner: `${roles.runnerLogin}_2`,
    };
    extraLogins.push(logins.owner, logins.runner);

    const password = crypto.randomBytes(12).toString("hex");
    await applyScript(admin, OWNER_SCRIPT, roles, {
      login: logins.owner,
      password,
    });
    await applyScript(admin, RUNNER_SCRIPT, roles, {
      login: logins.runner,
      password,
    });

    expect(await tablePrivileges(admin, roles.runner)).to.deep.equal(before);
    const { rows } = await admin.query(
      "SELECT pg_has_role($1, $2, 'member') AS member",
      [logins.runner, roles.runner],
    );
    expect(rows[0].member).to.equal(true);
  });
});

/**
 * applyScript runs one of DataLayer/roles/*.sql as psql would, with this
 * run's role names in place of batch_owner and batch_runner.
 */
async function applyScript(
  client: Client,
  file: string,
  roles: RoleNames,
  variables: Readonly<Record<string, string>>,
): Promise<void> {
  const script = fs
    .readFileSync(file, "utf8")
    .replace(/\bbatch_owner\b/g, roles.owner)
    .replace(/\bbatch_runner\b/g, roles.runner);
  for (const statement of psqlStatements(script, client, variables)) {
    try {
      await client.query(statement);
    } catch (error) {
      throw new Error(`Cannot run ${path.basename(file)}: ${statement}`, {
        cause: error,
      });
    }
  }
}

// One alternative per token that psql reads, tried in this order.
const PSQL_TOKEN = new RegExp(
  [
    String.raw`\\[^\n]*`, // a meta-command, to the end of its line
    String.raw`--[^\n]*`, // a line comment
    String.raw`/\*[\s\S]*?\*/`, // a block comment
    String.raw`'(?:[^']|'')*'`, // a string
    String.raw`"(?:[^"]|"")*"`, // a quoted name
    String.raw`(\$\w*\$)[\s\S]*?\1`, // a dollar-quoted body
    String.raw`:(['"])(\w+)\2`, // a variable, :'name' or :"name"
    ";",
    String.raw`[^-/'":;$\\]+`, // anything else, in bulk
    String.raw`[\s\S]`, // or one character
  ].join("|"),
  "gy",
);

/**
 * psqlStatements splits a psql script into the statements psql would send:
 * meta-command lines (a backslash first) dropped, `:'name'` and `:"name"`
 * replaced by the variable as a literal and as an identifier, and nothing
 * replaced or split inside strings, quoted names, comments or dollar quotes.
 *
 * @throws {RangeError} for a variable that is not given.
 */
function psqlStatements(
  script: string,
  client: Client,
  variables: Readonly<Record<string, string>>,
): string[] {
  const statements: string[] = [];
  let current = "";
  for (const match of script.matchAll(new RegExp(PSQL_TOKEN))) {
    const [text, , quote, name] = match;
    if (text.startsWith("\\") && /(^|\n)\s*$/.test(current)) continue;
    if (text.startsWith("--") || text.startsWith("/*")) continue;
    if (name !== undefined) {
      const value = variables[name];
      if (value === undefined) {
        throw new RangeError(`psql variable ${name} is not set`);
      }
      current +=
        quote === "'"
          ? client.escapeLiteral(value)
          : client.escapeIdentifier(value);
    } else if (text === ";") {
      if (current.trim() !== "") statements.push(current.trim());
      current = "";
    } else {
      current += text;
    }
  }
  if (current.trim() !== "") statements.push(current.trim());
  return statements;
}

/** tablePrivileges lists a role's privileges on tables and columns. */
async function tablePrivileges(
  client: Client,
  role: string,
): Promise<string[]> {
  const { rows } = await client.query(
    `SELECT c.oid::regclass::text || ' ' || acl.privilege_type AS privilege
     FROM pg_class c, aclexplode(c.relacl) acl
     WHERE acl.grantee = $1::regrole
     UNION ALL
     SELECT c.oid::regclass::text || ' ' || acl.privilege_type ||
            ' (' || a.attname || ')'
     FROM pg_attribute a
     JOIN pg_class c ON c.oid = a.attrelid, aclexplode(a.attacl) acl
     WHERE acl.grantee = $1::regrole
     ORDER BY 1`,
    [role],
  );
  return rows.map((row: { privilege: string }) => row.privilege);
}

async function connectClient(url: string): Promise<Client> {
  const client = new Client({ connectionString: url });
  await client.connect();
  return client;
}

function urlAs(url: string, user: string, password: string): string {
  const parsed = new URL(url);
  parsed.username = encodeURIComponent(user);
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
}

/** dropRoles drops roles in the given order; their database is gone. */
async function dropRoles(url: string, names: readonly string[]): Promise<void> {
  const maintenance = new URL(url);
  maintenance.pathname = "/postgres";
  const client = await connectClient(maintenance.toString());
  try {
    for (const name of names) {
      const role = client.escapeIdentifier(name);
      await client.query(`DROP ROLE IF EXISTS ${role}`);
    }
  } finally {
    await client.end();
  }
}

interface ProcessRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

// A runner refused a write on its own tables retries its round forever;
// the deadline turns that into a failure that shows its log.
const RUNNER_DEADLINE_MS = 60_000;

/** runProcess runs node with `args`, killing it after the deadline. */
function runProcess(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<ProcessRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: CHECKOUT, env });
    const timer = setTimeout(() => child.kill("SIGKILL"), RUNNER_DEADLINE_MS);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
