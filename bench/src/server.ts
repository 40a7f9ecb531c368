import * as path from "node:path";
import { Client } from "pg";
import { CHECKOUT, EmbeddedServer, product } from "./product";

/**
 * BenchServer is the one PostgreSQL server that every system is measured
 * on: the embedded one, or the server DATABASE_URL names. Each section gets
 * a database of its own, created fresh and dropped after.
 */
export interface BenchServer {
  /** Where the server is, for the report; never the password. */
  readonly description: string;
  /** freshDatabase drops and creates `name`, and gives its URL. */
  freshDatabase(name: string): Promise<string>;
  dropDatabase(name: string): Promise<void>;
  /** adminQuery runs one statement on the maintenance connection. */
  adminQuery<T>(sql: string, parameters?: unknown[]): Promise<T[]>;
  stop(): Promise<void>;
}

// Twenty peer processes with a pool of ten each, plus the runners and the
// harness, pass PostgreSQL's default of 100.
const EMBEDDED_SETTINGS = { max_connections: "400" };

/**
 * openServer starts the embedded PostgreSQL (in bench/.embedded-postgres,
 * apart from the demo's) unless DATABASE_URL is set. The URL's user needs
 * CREATEDB; its server needs max_connections of about 300 for the runs
 * with 20 processes.
 */
export async function openServer(): Promise<BenchServer> {
  const url = process.env.DATABASE_URL?.trim();
  if (url) return serverAt(url, undefined, describeUrl(url));

  const { EmbeddedDatabase, defaultDataDir } = product();
  const dataDir = defaultDataDir(path.join(CHECKOUT, "bench"));
  const embedded = await EmbeddedDatabase.start({
    dataDir,
    settings: EMBEDDED_SETTINGS,
  });
  return serverAt(
    embedded.urlFor("postgres"),
    embedded,
    `embedded PostgreSQL on 127.0.0.1:${embedded.port} (${dataDir})`,
  );
}

async function serverAt(
  adminUrl: string,
  embedded: EmbeddedServer | undefined,
  description: string,
): Promise<BenchServer> {
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  const urlOf = (name: string) => {
    const parsed = new URL(adminUrl);
    parsed.pathname = `/${encodeURIComponent(name)}`;
    return parsed.toString();
  };
  const drop = async (name: string) => {
    await admin.query(
      `DROP DATABASE IF EXISTS ${admin.escapeIdentifier(name)} WITH (FORCE)`,
    );
  };

  return {
    description,
    async freshDatabase(name) {
      await drop(name);
      await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(name)}`);
      return urlOf(name);
    },
    dropDatabase: drop,
    async adminQuery<T>(sql: string, parameters: unknown[] = []) {
      return (await admin.query(sql, parameters)).rows as T[];
    },
    async stop() {
      await admin.end().catch(() => undefined);
      await embedded?.stop();
    },
  };
}

function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `PostgreSQL at ${parsed.hostname}:${parsed.port || 5432} (DATABASE_URL)`;
  } catch {
    throw new RangeError(
      "Cannot read DATABASE_URL: expected postgres://user:password@host:port/database",
    );
  }
}
