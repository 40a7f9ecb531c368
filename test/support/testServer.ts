import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";
import type { DataSource } from "typeorm";
import { connect } from "../../DataLayer/connect";
import { EmbeddedDatabase } from "../../DataLayer/embedded/EmbeddedDatabase";
import {
  DATABASE_VARIABLES,
  DatabaseSettings,
  isDatabaseConfigured,
  readDatabaseSettings,
} from "../../ormconfig";

/**
 * The PostgreSQL server the tests use: an embedded one started for this run,
 * or the one that DATABASE_URL or the DB_* variables name. Each test that
 * needs a database gets its own, created here and dropped after it.
 */
let embedded: EmbeddedDatabase | undefined;
let embeddedFolder: string | undefined;
let adminUrl: string | undefined;

/** startTestServer starts the embedded server unless one is configured. */
export async function startTestServer(): Promise<void> {
  if (adminUrl !== undefined) return;
  if (isDatabaseConfigured()) {
    adminUrl = urlOf(readDatabaseSettings());
    return;
  }
  embeddedFolder = fs.mkdtempSync(path.join(os.tmpdir(), "batch-test-"));
  fs.chmodSync(embeddedFolder, 0o755);
  embedded = await EmbeddedDatabase.start({
    dataDir: path.join(embeddedFolder, "data"),
    // A throwaway cluster: durability buys nothing and costs seconds.
    settings: {
      fsync: "off",
      synchronous_commit: "off",
      full_page_writes: "off",
      max_connections: "200",
    },
  });
  adminUrl = embedded.urlFor("postgres");
}

/** stopTestServer stops the embedded server and removes its files. */
export async function stopTestServer(): Promise<void> {
  await embedded?.stop();
  if (embeddedFolder !== undefined) {
    fs.rmSync(embeddedFolder, { recursive: true, force: true });
  }
  embedded = undefined;
  embeddedFolder = undefined;
  adminUrl = undefined;
}

/** The embedded server, for tests that restart it; undefined otherwise. */
export function embeddedServer(): EmbeddedDatabase | undefined {
  return embedded;
}

/** TestDatabase is one test's own database on the test server. */
export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  readonly settings: DatabaseSettings;
  /** Environment for child processes: only DATABASE_URL, pointing here. */
  readonly env: NodeJS.ProcessEnv;
  /** connect opens a DataSource on this database. */
  connect(applicationName?: string): Promise<DataSource>;
  /** drop ends its connections and drops it. */
  drop(): Promise<void>;
}

/** createTestDatabase creates a fresh, empty database for one test. */
export async function createTestDatabase(): Promise<TestDatabase> {
  if (adminUrl === undefined) throw new Error("Test server is not started");
  const name = `batch_test_${crypto.randomBytes(5).toString("hex")}`;
  await admin((client) => client.query(`CREATE DATABASE "${name}"`));

  const url = withDatabase(adminUrl, name);
  const settings = readDatabaseSettings({ DATABASE_URL: url });
  return {
    name,
    url,
    settings,
    env: childEnvironment(url),
    connect: (applicationName = "batch-test") =>
      connect(settings, { applicationName, poolSize: 4 }),
    drop: async () => {
      await admin((client) =>
        client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
      );
    },
  };
}

/**
 * childEnvironment is the environment for a child process: the parent's,
 * minus every database variable, plus DATABASE_URL.
 */
export function childEnvironment(url: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of DATABASE_VARIABLES) delete env[name];
  return { ...env, DATABASE_URL: url };
}

async function admin<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

function urlOf(settings: DatabaseSettings): string {
  if (settings.url !== undefined) return settings.url;
  const password =
    settings.password === undefined
      ? ""
      : `:${encodeURIComponent(settings.password)}`;
  return `postgres://${encodeURIComponent(settings.user)}${password}@${settings.host}:${settings.port}/${encodeURIComponent(settings.database)}`;
}
