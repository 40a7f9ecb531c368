import "reflect-metadata";
import * as fs from "node:fs";
import { DataSource } from "typeorm";
import { BatchJob } from "./DataLayer/entities/BatchJob";
import { BatchJobAttempt } from "./DataLayer/entities/BatchJobAttempt";
import { GuardedClient } from "./DataLayer/GuardedClient";
import { PurchaseOrderDetail } from "./DataLayer/entities/PurchaseOrderDetail";
import { PurchaseOrderHeader } from "./DataLayer/entities/PurchaseOrderHeader";
import { RunnerHeartbeat } from "./DataLayer/entities/RunnerHeartbeat";
import { SummedSalesResult } from "./DataLayer/entities/SummedSalesResult";
import { Vendor } from "./DataLayer/entities/Vendor";
import { MIGRATIONS } from "./DataLayer/migrations";

/** TASK_SCHEMA is the schema that holds the task table and its history. */
export const TASK_SCHEMA = "blog";

/** MIGRATIONS_TABLE keeps the original's migration history table name. */
export const MIGRATIONS_TABLE = "_ef_migration_history";

/** The variables that select a database; any one set means "configured". */
export const DATABASE_VARIABLES = [
  "DATABASE_URL",
  "DB_ADDRESS",
  "DB_PORT",
  "DB_USER",
  "DB_PASSWORD",
  "DB_PASSWORD_FILE",
  "DB_NAME",
] as const;

/**
 * DatabaseSettings is where the product connects, read once from the
 * environment by readDatabaseSettings.
 */
export interface DatabaseSettings {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string | undefined;
  readonly database: string;
  /** Set when DATABASE_URL was given; it wins over the other fields. */
  readonly url: string | undefined;
}

type Environment = Readonly<Record<string, string | undefined>>;

/**
 * isDatabaseConfigured tells whether the environment names a database at
 * all. The demo and the tests start an embedded PostgreSQL when it does not.
 */
export function isDatabaseConfigured(env: Environment = process.env): boolean {
  return DATABASE_VARIABLES.some((name) => nonEmpty(env[name]) !== undefined);
}

/**
 * readDatabaseSettings reads DATABASE_URL, or else DB_ADDRESS (localhost),
 * DB_PORT (5432), DB_USER (postgres), DB_PASSWORD or DB_PASSWORD_FILE (no
 * password) and DB_NAME (Adventureworks).
 *
 * @throws {RangeError} when a value is malformed, before any database work.
 */
export function readDatabaseSettings(
  env: Environment = process.env,
): DatabaseSettings {
  const url = nonEmpty(env.DATABASE_URL);
  if (url !== undefined) return settingsFromUrl(url);

  return {
    host: nonEmpty(env.DB_ADDRESS) ?? "localhost",
    port: parsePort(nonEmpty(env.DB_PORT) ?? "5432", "DB_PORT"),
    user: nonEmpty(env.DB_USER) ?? "postgres",
    password: readPassword(env),
    database: nonEmpty(env.DB_NAME) ?? "Adventureworks",
    url: undefined,
  };
}

/**
 * describeDatabase names a database for messages: host, port, database and
 * user, never the password.
 */
export function describeDatabase(settings: DatabaseSettings): string {
  return (
    `host ${settings.host}, port ${settings.port}, ` +
    `database ${settings.database}, user ${settings.user}`
  );
}

/** DataSourceOptions tunes one process's connections. */
export interface ConnectionOptions {
  /** Shown in pg_stat_activity; default "batch". */
  readonly applicationName?: string;
  /** Connections in the pool; default 4. */
  readonly poolSize?: number;
  /** Seconds to wait for a connection; default 10. */
  readonly connectTimeoutSeconds?: number;
  /**
   * Milliseconds a transaction may sit idle before the server ends its
   * session, releasing its locks; default: the server's setting.
   */
  readonly idleInTransactionTimeoutMs?: number;
  /**
   * Commit without waiting for the write-ahead log to reach disk; default
   * false. Only for writes whose loss in a database crash costs nothing.
   */
  readonly asynchronousCommit?: boolean;
}

/**
 * createDataSource builds the TypeORM DataSource for the given settings. It
 * does not connect: call `initialize()`.
 */
export function createDataSource(
  settings: DatabaseSettings,
  options: ConnectionOptions = {},
): DataSource {
  return new DataSource({
    type: "postgres",
    ...(settings.url !== undefined
      ? { url: settings.url }
      : {
          host: settings.host,
          port: settings.port,
          username: settings.user,
          password: settings.password,
          database: settings.database,
        }),
    schema: TASK_SCHEMA,
    entities: [
      BatchJob,
      BatchJobAttempt,
      RunnerHeartbeat,
      SummedSalesResult,
      Vendor,
      PurchaseOrderHeader,
      PurchaseOrderDetail,
    ],
    migrations: MIGRATIONS,
    migrationsTableName: MIGRATIONS_TABLE,
    migrationsTransactionMode: "each",
    synchronize: false,
    // Failed queries surface as errors that our own logger reports; TypeORM's
    // logger would print them on stdout, which belongs to the tasks.
    logging: false,
    applicationName: options.applicationName ?? "batch",
    poolSize: options.poolSize ?? 4,
    connectTimeoutMS: (options.connectTimeoutSeconds ?? 10) * 1000,
    extra: {
      Client: GuardedClient,
      // Notice a peer that vanished (a pulled cable, a frozen VM) instead of
      // waiting on the socket forever.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      ...sessionOptions(options),
    },
  });
}

/** sessionOptions turns ConnectionOptions into the server's `-c` settings. */
function sessionOptions(options: ConnectionOptions): { options?: string } {
  const settings: string[] = [];
  if (options.idleInTransactionTimeoutMs !== undefined) {
    const ms = Math.trunc(options.idleInTransactionTimeoutMs);
    settings.push(`-c idle_in_transaction_session_timeout=${ms}`);
  }
  if (options.asynchronousCommit) settings.push("-c synchronous_commit=off");
  return settings.length === 0 ? {} : { options: settings.join(" ") };
}

function settingsFromUrl(url: string): DatabaseSettings {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RangeError(
      "Cannot read DATABASE_URL: expected postgres://user:password@host:port/database",
    );
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
    throw new RangeError(
      `Cannot read DATABASE_URL: protocol must be postgres: or postgresql:, got ${parsed.protocol}`,
    );
  }
  return {
    host: decodeURIComponent(parsed.hostname) || "localhost",
    port: parsePort(parsed.port || "5432", "DATABASE_URL port"),
    user: decodeURIComponent(parsed.username) || "postgres",
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    database:
      decodeURIComponent(parsed.pathname.replace(/^\//, "")) || "postgres",
    url,
  };
}

function parsePort(text: string, variable: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(
      `Cannot read ${variable}: expected a port from 1 to 65535, got "${text}"`,
    );
  }
  return port;
}

function readPassword(env: Environment): string | undefined {
  const file = nonEmpty(env.DB_PASSWORD_FILE);
  if (file === undefined) return nonEmpty(env.DB_PASSWORD);
  try {
    return fs.readFileSync(file, "utf8").replace(/\r?\n$/, "");
  } catch (error) {
    throw new RangeError(`Cannot read DB_PASSWORD_FILE ${file}`, {
      cause: error,
    });
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}

/**
 * The DataSource that the TypeORM command line uses, built from the
 * environment. It is a promise so that importing this file never throws: a
 * malformed variable surfaces, with its message, when the CLI awaits it.
 */
const commandLineDataSource = Promise.resolve().then(() =>
  createDataSource(readDatabaseSettings(), {
    applicationName: "batch-migrations",
  }),
);
commandLineDataSource.catch(() => undefined);
export default commandLineDataSource;
