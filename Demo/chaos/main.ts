import "reflect-metadata";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  numberOption,
  parseCommandLine,
  runCommand,
} from "../../Contracts/commandLine";
import { EmbeddedDatabase } from "../../DataLayer/embedded/EmbeddedDatabase";
import {
  DatabaseSettings,
  describeDatabase,
  isDatabaseConfigured,
  readDatabaseSettings,
} from "../../ormconfig";
import { ChaosPlan, validateChaosPlan } from "./chaosPlan";
import { formatChaosReport } from "./formatChaosReport";
import { runChaos } from "./runChaos";
import { findCheckoutRoot } from "../checkoutRoot";

const USAGE = `Usage: npm run chaos -- [options]

Queues chaos tasks (short work, plus poison that throws, kills its runner,
hangs or is invalid), starts runner processes and drains the queue while
killing runners at random and restarting the database, then checks that
every task settled, each done task wrote one result and only poison failed.
Without a configured database it runs on an embedded PostgreSQL in a fresh
temporary folder, removed at the end; a configured one is never restarted.

Options:
  --tasks N              tasks queued, poison included (default 3000)
  --runners N            runner processes kept working (default 10)
  --kills N              SIGKILLs of random runners (default 20)
  --database-restarts N  database restarts, embedded only (default 1)
  --batch-size N         each runner's batch size (default 10)
  --concurrency N        each runner's rounds in flight (default 1)
  --seed N               seed of task order and kill schedule (default
                         random, printed)
  --runner-log FILE      where the runners' log lines go (default a file
                         in the system's temporary folder, printed)
  --help                 show this text

Exits 0 only when every check holds.`;

const DATABASE_NAME = "chaos";

async function main(): Promise<number> {
  const args = parseCommandLine(process.argv.slice(2), {
    tasks: { type: "string" },
    runners: { type: "string" },
    kills: { type: "string" },
    "database-restarts": { type: "string" },
    "batch-size": { type: "string" },
    concurrency: { type: "string" },
    seed: { type: "string" },
    "runner-log": { type: "string" },
    help: { type: "boolean" },
  });
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const configured = isDatabaseConfigured();
  const plan = validateChaosPlan({
    tasks: numberOption("tasks", args.tasks),
    runners: numberOption("runners", args.runners),
    kills: numberOption("kills", args.kills),
    databaseRestarts: configured
      ? 0
      : numberOption("database-restarts", args["database-restarts"]),
    batchSize: numberOption("batch-size", args["batch-size"]),
    concurrency: numberOption("concurrency", args.concurrency),
    seed: numberOption("seed", args.seed),
  });
  const settings = configured ? readDatabaseSettings() : undefined;
  const logFile =
    args["runner-log"] ??
    path.join(os.tmpdir(), `batch-chaos-${plan.seed}-runners.log`);

  if (settings !== undefined) {
    console.log(`Database: ${describeDatabase(settings)}`);
    console.log("Database restarts skipped: only an embedded one is restarted");
    return runAndReport(plan, urlOf(settings), undefined, logFile);
  }
  return withEmbeddedDatabase((database) =>
    runAndReport(
      plan,
      database.urlFor(DATABASE_NAME),
      () => database.restart(),
      logFile,
    ),
  );
}

async function runAndReport(
  plan: ChaosPlan,
  url: string,
  restartDatabase: (() => Promise<void>) | undefined,
  logFile: string,
): Promise<number> {
  console.log(`Runner logs: ${logFile}`);
  const log = fs.createWriteStream(logFile);
  try {
    const report = await runChaos(plan, {
      url,
      restartDatabase,
      out: process.stdout,
      root: findCheckoutRoot(__dirname),
      onRunnerLog: (runnerId, line) => log.write(`${runnerId} ${line}\n`),
    });
    console.log(`\n${formatChaosReport(report)}`);
    return report.ok ? 0 : 1;
  } finally {
    await new Promise((resolve) => log.end(resolve));
  }
}

/**
 * withEmbeddedDatabase runs `work` on a throwaway PostgreSQL in a fresh
 * temporary folder, which it removes afterwards, also on Ctrl-C.
 */
async function withEmbeddedDatabase(
  work: (database: EmbeddedDatabase) => Promise<number>,
): Promise<number> {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), "batch-chaos-"));
  // As root the server runs as user postgres, which must reach the folder.
  fs.chmodSync(folder, 0o755);
  console.log(`No database configured: embedded PostgreSQL in ${folder}`);
  let database: EmbeddedDatabase | undefined;
  const cleanUp = async () => {
    await database?.stop();
    fs.rmSync(folder, { recursive: true, force: true });
  };
  process.once("SIGINT", () => void cleanUp().finally(() => process.exit(130)));
  try {
    database = await EmbeddedDatabase.start({
      dataDir: path.join(folder, "data"),
      // A throwaway cluster: durability buys nothing and costs time.
      settings: {
        fsync: "off",
        synchronous_commit: "off",
        full_page_writes: "off",
      },
    });
    await database.createDatabase(DATABASE_NAME);
    return await work(database);
  } finally {
    await cleanUp();
  }
}

function urlOf(settings: DatabaseSettings): string {
  if (settings.url !== undefined) return settings.url;
  const user = encodeURIComponent(settings.user);
  const password =
    settings.password === undefined
      ? ""
      : `:${encodeURIComponent(settings.password)}`;
  const database = encodeURIComponent(settings.database);
  return `postgres://${user}${password}@${settings.host}:${settings.port}/${database}`;
}

runCommand(main, USAGE);
