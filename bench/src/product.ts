/**
 * The product as users run it: the compiled modules in the checkout's
 * dist/, loaded at run time. The top-level build emits no declarations, so
 * this file states the few signatures the bench relies on; a changed
 * signature shows up as a failed run here, not as a type error.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** CHECKOUT is the repository root, two levels above bench/dist. */
export const CHECKOUT = path.resolve(__dirname, "..", "..");

/** PRODUCT_DIST is the top-level build that the runners also execute. */
export const PRODUCT_DIST = path.join(CHECKOUT, "dist");

/** RUNNER_ENTRY is the runner's command-line entry point. */
export const RUNNER_ENTRY = path.join(
  PRODUCT_DIST,
  "SimpleBatchRunner",
  "main.js",
);

/** The parts of TypeORM's EntityManager the bench uses. */
export interface Manager {
  query(sql: string, parameters?: unknown[]): Promise<any>;
}

/** The parts of TypeORM's QueryRunner the bench uses. */
export interface QueryRunnerLike {
  readonly manager: Manager;
  connect(): Promise<unknown>;
  startTransaction(isolation?: string): Promise<void>;
  rollbackTransaction(): Promise<void>;
  release(): Promise<void>;
}

/** The parts of TypeORM's DataSource the bench uses. */
export interface DataSourceLike extends Manager {
  readonly manager: Manager;
  transaction<T>(work: (manager: Manager) => Promise<T>): Promise<T>;
  createQueryRunner(): QueryRunnerLike;
  destroy(): Promise<void>;
}

/** NewTask as DataLayer/enqueue.ts declares it. */
export interface NewTask {
  readonly className: string;
  readonly contractName: string;
  readonly contractJson: string;
}

/** The registry's serialization, as Contracts/TaskRegistry.ts declares it. */
export interface RegistryLike {
  serialize(contract: object): { contractName: string; contractJson: string };
  contractNameOf(className: string): string;
}

/** The embedded server, as DataLayer/embedded/EmbeddedDatabase.ts has it. */
export interface EmbeddedServer {
  readonly port: number;
  urlFor(database: string): string;
  stop(): Promise<void>;
}

interface Product {
  readonly EmbeddedDatabase: {
    start(options: {
      dataDir: string;
      settings?: Record<string, string>;
    }): Promise<EmbeddedServer>;
  };
  defaultDataDir(checkout: string): string;
  connect(settings: unknown, options?: object): Promise<DataSourceLike>;
  readDatabaseSettings(env: Record<string, string | undefined>): unknown;
  migrate(dataSource: DataSourceLike): Promise<string[]>;
  enqueueTasks(manager: Manager, tasks: readonly NewTask[]): Promise<number>;
  claimPendingTasks(manager: Manager, limit: number): Promise<unknown[]>;
  loadSample(
    dataSource: DataSourceLike,
    source: { kind: "generated"; seed: number; scale: number },
  ): Promise<{ vendors: number; headers: number; details: number }>;
  queueVendorJob(
    dataSource: DataSourceLike,
    registry: RegistryLike,
  ): Promise<number>;
  verifyVendorJob(dataSource: DataSourceLike): Promise<{
    vendors: number;
    matching: number;
    problems: readonly string[];
  }>;
  taskRegistry: RegistryLike;
}

function load<T>(relative: string): T {
  const file = path.join(PRODUCT_DIST, `${relative}.js`);
  if (!fs.existsSync(file)) {
    throw new Error(
      `Cannot load the product: ${file} is missing; run npx tsc -p . at the top first`,
    );
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(file) as T;
}

let loaded: Product | undefined;

/**
 * product loads the compiled modules once. reflect-metadata comes first, as
 * in every entry point of the product.
 *
 * @throws {Error} when dist/ has not been built.
 */
export function product(): Product {
  if (loaded !== undefined) return loaded;
  require(path.join(CHECKOUT, "node_modules", "reflect-metadata"));
  loaded = {
    ...load<Pick<Product, "EmbeddedDatabase" | "defaultDataDir">>(
      "DataLayer/embedded/EmbeddedDatabase",
    ),
    ...load<Pick<Product, "connect">>("DataLayer/connect"),
    ...load<Pick<Product, "readDatabaseSettings">>("ormconfig"),
    ...load<Pick<Product, "migrate">>("DataLayer/migrate"),
    ...load<Pick<Product, "enqueueTasks">>("DataLayer/enqueue"),
    ...load<Pick<Product, "claimPendingTasks">>("DataLayer/claim"),
    ...load<Pick<Product, "loadSample">>("DataLayer/sample/loadSample"),
    ...load<Pick<Product, "queueVendorJob">>("Batch.Client/queueVendorJob"),
    ...load<Pick<Product, "verifyVendorJob">>("Batch.Client/verifyVendorJob"),
    // The runner's own task list, so that SummedSalesBatch is registered.
    ...load<Pick<Product, "taskRegistry">>("SimpleBatchRunner/tasks/index"),
  };
  return loaded;
}

/** connectTo opens a product DataSource on a database URL. */
export function connectTo(url: string, poolSize = 4): Promise<DataSourceLike> {
  const { connect, readDatabaseSettings } = product();
  return connect(readDatabaseSettings({ DATABASE_URL: url }), {
    applicationName: "batch-bench",
    poolSize,
  });
}
