import { expect } from "chai";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import {
  createDataSource,
  DATABASE_VARIABLES,
  describeDatabase,
  isDatabaseConfigured,
  MIGRATIONS_TABLE,
  readDatabaseSettings,
  TASK_SCHEMA,
} from "../../ormconfig";
import {
  childEnvironment,
  createTestDatabase,
  TestDatabase,
} from "../support/testServer";
import { migrate } from "../../DataLayer/migrate";
import { thrownBy } from "../support/thrownBy";

const DIST = path.resolve(__dirname, "..", "..", "dist");
const RUNNER = path.join(DIST, "SimpleBatchRunner", "main.js");
const MIGRATION_COMMAND = path.join(DIST, "DataLayer", "migrationCommand.js");
const ENTRY_POINTS = [
  { name: "runner", script: RUNNER, args: ["--until-empty"] },
  { name: "migration command", script: MIGRATION_COMMAND, args: ["show"] },
];
const STACK_LINE = /^\s{4}at /m;

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** runNode runs a compiled entry point and collects what it wrote. */
function runNode(
  script: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** The parent's environment without any variable that selects a database. */
function unconfiguredEnvironment(
  extra: Record<string, string> = {},
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of DATABASE_VARIABLES) delete env[name];
  return { ...env, ...extra };
}

/** closedPort finds a port that nothing listens on, by freeing one. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function linesOf(text: string): string[] {
  return text.trimEnd().split("\n");
}

describe("readDatabaseSettings", () => {
  let folder: string;

  beforeEach(() => {
    folder = fs.mkdtempSync(path.join(os.tmpdir(), "batch-config-"));
  });

  afterEach(() => {
    fs.rmSync(folder, { recursive: true, force: true });
  });

  it("defaults to the original's database on localhost", () => {
    const env = {};

    const settings = readDatabaseSettings(env);

    expect(settings).to.deep.equal({
      host: "localhost",
      port: 5432,
      user: "postgres",
      password: undefined,
      database: "Adventureworks",
      url: undefined,
    });
  });

  it("reads each DB_ variable", () => {
    const env = {
      DB_ADDRESS: "db.internal",
      DB_PORT: "6543",
      DB_USER: "batch",
      DB_PASSWORD: "s3cret",
      DB_NAME: "Sales",
    };

    const settings = readDatabaseSettings(env);

    expect(settings).to.deep.equal({
      host: "db.internal",
      port: 6543,
      user: "batch",
      password: "s3cret",
      database: "Sales",
      url: undefined,
    });
  });

  it("treats blank variables as unset", () => {
    const env = { DB_ADDRESS: " ", DB_PORT: "", DB_NAME: "  " };

    const settings = readDatabaseSettings(env);

    expect(settings).to.include({
      host: "localhost",
      port: 5432,
      database: "Adventureworks",
    });
  });

  it("lets DATABASE_URL win over the DB_ variables", () => {
    const url = "postgres://app:pw@db.example:6000/orders";
    const env = { DATABASE_URL: url, DB_ADDRESS: "other", DB_NAME: "Other" };

    const settings = readDatabaseSettings(env);

    expect(settings).to.deep.equal({
      host: "db.example",
      port: 6000,
      user: "app",
      password: "pw",
      database: "orders",
      url,
    });
  });

  it("percent-decodes the user and password of DATABASE_URL", () => {
    const env = { DATABASE_URL: "postgresql://b%40tch:p%40ss%3Aw%2Fd@h/db" };

    const settings = readDatabaseSettings(env);

    expect(settings).to.include({
      user: "b@tch",
      password: "p@ss:w/d",
      port: 5432,
    });
  });

  it("reads the password from DB_PASSWORD_FILE without its newline", () => {
    const file = path.join(folder, "password");
    fs.writeFileSync(file, "from-file\n");
    const env = { DB_PASSWORD_FILE: file, DB_PASSWORD: "from-variable" };

    const settings = readDatabaseSettings(env);

    expect(settings.password).to.equal("from-file");
  });

  it("refuses a DB_PASSWORD_FILE that cannot be read", () => {
    const env = { DB_PASSWORD_FILE: path.join(folder, "missing") };

    const error = thrownBy(() => readDatabaseSettings(env));

    expect(error).to.be.instanceOf(RangeError);
    expect((error as Error).message).to.include("DB_PASSWORD_FILE");
  });

  it("refuses a DB_PORT that is not a port number", () => {
    const ports = ["abc", "0", "70000", "54.32"];

    const errors = ports.map((port) =>
      thrownBy(() => readDatabaseSettings({ DB_PORT: port })),
    );

    for (const [index, error] of errors.entries()) {
      expect(error).to.be.instanceOf(RangeError);
      expect((error as Error).message).to.include("DB_PORT");
      expect((error as Error).message).to.include(`"${ports[index]}"`);
    }
  });

  it("refuses a DATABASE_URL that is not a postgres URL", () => {
    const urls = ["mysql://root@localhost/db", "not a url"];

    const errors = urls.map((url) =>
      thrownBy(() => readDatabaseSettings({ DATABASE_URL: url })),
    );

    for (const error of errors) {
      expect(error).to.be.instanceOf(RangeError);
      expect((error as Error).message).to.include("DATABASE_URL");
    }
  });
});

describe("isDatabaseConfigured", () => {
  it("tells whether any database variable is set", () => {
    const environments = [{}, { DB_PORT: " " }, { DB_NAME: "x" }];

    const configured = environments.map((env) => isDatabaseConfigured(env));

    expect(configured).to.deep.equal([false, false, true]);
  });
});

describe("describeDatabase", () => {
  it("names host, port, database and user but never the password", () => {
    const password = "hunter2-very-secret";
    const settings = readDatabaseSettings({
      DATABASE_URL: `postgres://app:${password}@db.example:6000/orders`,
    });

    const description = describeDatabase(settings);

    expect(description).to.equal(
      "host db.example, port 6000, database orders, user app",
    );
    expect(description).not.to.include(password);
  });
});

describe("createDataSource", () => {
  it("keeps the task schema, its history table and synchronize off", () => {
    const settings = readDatabaseSettings({});

    const dataSource = createDataSource(settings);

    expect(dataSource.isInitialized).to.equal(false);
    expect(dataSource.options).to.include({
      schema: TASK_SCHEMA,
      migrationsTableName: MIGRATIONS_TABLE,
      synchronize: false,
    });
  });
});

describe("entry points with bad configuration", () => {
  before(() => {
    if (!fs.existsSync(RUNNER) || !fs.existsSync(MIGRATION_COMMAND)) {
      throw new Error(`Cannot find ${DIST}; run npm run build first`);
    }
  });

  for (const { name, script, args } of ENTRY_POINTS) {
    it(`the ${name} reports a refused connection in one line`, async () => {
      const port = await closedPort();
      const env = unconfiguredEnvironment({
        DB_ADDRESS: "127.0.0.1",
        DB_PORT: String(port),
        DB_PASSWORD: "hunter2-not-shown",
      });

      const outcome = await runNode(script, args, env);

      expect(outcome.code).to.not.equal(0);
      expect(linesOf(outcome.stderr)).to.have.lengthOf(1);
      expect(outcome.stderr).to.include("127.0.0.1");
      expect(outcome.stderr).to.include(`port ${port}`);
      expect(outcome.stderr).to.include("Adventureworks");
      expect(outcome.stderr).to.include("ECONNREFUSED");
      expect(outcome.stderr).not.to.include("hunter2-not-shown");
      expect(outcome.stderr).not.to.match(STACK_LINE);
    });

    it(`the ${name} reports a malformed DB_PORT in one line`, async () => {
      const env = unconfiguredEnvironment({ DB_PORT: "abc" });

      const outcome = await runNode(script, args, env);

      expect(outcome.code).to.equal(1);
      expect(linesOf(outcome.stderr)).to.have.lengthOf(1);
      expect(outcome.stderr).to.include("DB_PORT");
      expect(outcome.stderr).not.to.match(STACK_LINE);
    });
  }

  it("the runner refuses an unknown option with the usage text", async () => {
    const env = unconfiguredEnvironment();

    const outcome = await runNode(RUNNER, ["--no-such-option"], env);

    expect(outcome.code).to.equal(2);
    expect(outcome.stderr).to.include("--no-such-option");
    expect(outcome.stderr).to.include("Usage:");
    expect(outcome.stderr).not.to.match(STACK_LINE);
  });

  it("the runner refuses a batch size of zero in one line", async () => {
    const env = unconfiguredEnvironment();

    const outcome = await runNode(RUNNER, ["--batch-size", "0"], env);

    expect(outcome.code).to.equal(1);
    expect(linesOf(outcome.stderr)).to.have.lengthOf(1);
    expect(outcome.stderr).to.include("batchSize");
    expect(outcome.stderr).to.include("got 0");
    expect(outcome.stderr).not.to.match(STACK_LINE);
  });

  it("the migration command refuses an unknown action with usage", async () => {
    const env = unconfiguredEnvironment();

    const outcome = await runNode(MIGRATION_COMMAND, ["sideways"], env);

    expect(outcome.code).to.equal(2);
    expect(outcome.stderr).to.include('"sideways"');
    expect(outcome.stderr).to.include("Usage:");
  });
});

describe("the runner on a database without migrations", () => {
  let db: TestDatabase;

  beforeEach(async () => {
    db = await createTestDatabase();
  });

  afterEach(async () => {
    await db.drop();
  });

  it("exits in one line saying the task table is missing", async () => {
    const env = childEnvironment(db.url);

    const outcome = await runNode(RUNNER, ["--until-empty"], env);

    expect(outcome.code).to.not.equal(0);
    expect(linesOf(outcome.stderr)).to.have.lengthOf(1);
    expect(outcome.stderr).to.include("blog.batchjob does not exist");
    expect(outcome.stderr).to.include("migration:run");
    expect(outcome.stderr).to.include(db.name);
    expect(outcome.stderr).not.to.include(String(db.settings.password));
    expect(outcome.stderr).not.to.match(STACK_LINE);
  });

  it("exits in one line naming what a newer migration adds, when it is missing", async () => {
    const dataSource = await db.connect();
    try {
      await migrate(dataSource);
      await dataSource.query(
        "DROP FUNCTION blog.require_held_rows(bigint, bigint)",
      );
    } finally {
      await dataSource.destroy();
    }

    const outcome = await runNode(
      RUNNER,
      ["--until-empty"],
      childEnvironment(db.url),
    );

    expect(outcome.code).to.not.equal(0);
    expect(linesOf(outcome.stderr)).to.have.lengthOf(1);
    expect(outcome.stderr).to.include(
      "blog.require_held_rows(bigint, bigint) does not exist",
    );
    expect(outcome.stderr).to.include("migration:run");
  });
});
