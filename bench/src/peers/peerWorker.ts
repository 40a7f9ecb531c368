/**
 * peerWorker is one worker process of a peer system, the way its users run
 * it, with a no-op task. It prints on stdout: `ready T` once it is
 * working, `first T` when its first job starts, `marked T` when the first
 * job numbered --mark-from or higher starts, `start SEQ T` per job with
 * --report-starts, and `summary JSON` after SIGTERM, before it exits.
 * T is epoch milliseconds.
 */
import { parseArgs } from "node:util";
import { Logger, run, Runner } from "graphile-worker";
import PgBoss from "pg-boss";
import { epochMs } from "../stats";
import { PEER_TASK } from "./peerTask";

interface Counts {
  jobs: number;
  firstAt: number | null;
  lastAt: number | null;
}

const { values } = parseArgs({
  options: {
    system: { type: "string" },
    url: { type: "string" },
    queue: { type: "string", default: PEER_TASK },
    concurrency: { type: "string", default: "10" },
    "local-queue": { type: "string", default: "0" },
    "batch-size": { type: "string", default: "1" },
    "poll-ms": { type: "string", default: "2000" },
    "report-starts": { type: "boolean", default: false },
    "mark-from": { type: "string" },
  },
});

const counts: Counts = { jobs: 0, firstAt: null, lastAt: null };
const markFrom =
  values["mark-from"] === undefined ? undefined : Number(values["mark-from"]);
let marked = false;

function started(seq: unknown): void {
  const now = epochMs();
  if (counts.firstAt === null) {
    counts.firstAt = now;
    console.log(`first ${now}`);
  }
  if (!marked && markFrom !== undefined && Number(seq) >= markFrom) {
    marked = true;
    console.log(`marked ${now}`);
  }
  if (values["report-starts"]) console.log(`start ${String(seq)} ${now}`);
}

function ended(jobs: number): void {
  counts.jobs += jobs;
  counts.lastAt = epochMs();
}

async function startGraphile(url: string): Promise<() => Promise<void>> {
  const localQueue = Number(values["local-queue"]);
  // Warnings and errors only: the default logs a line per job.
  const logger = new Logger(() => (level, message) => {
    if (level === "error" || level === "warning")
      console.error(`${level}: ${message}`);
  });
  const runner: Runner = await run({
    connectionString: url,
    concurrency: Number(values.concurrency),
    pollInterval: Number(values["poll-ms"]),
    noHandleSignals: true,
    logger,
    taskList: {
      [PEER_TASK]: async (payload) => {
        started((payload as { seq?: unknown }).seq);
        ended(1);
      },
    },
    preset:
      localQueue > 0
        ? {
            worker: {
              localQueue: { size: localQueue },
              completeJobBatchDelay: 0,
              failJobBatchDelay: 0,
            },
          }
        : {},
  });
  return () => runner.stop();
}

async function startPgBoss(url: string): Promise<() => Promise<void>> {
  const boss = new PgBoss({
    connectionString: url,
    supervise: false,
    schedule: false,
    migrate: false,
    max: 4,
  });
  boss.on("error", (error) => console.error(`error: ${String(error)}`));
  await boss.start();
  await boss.work(
    values.queue ?? PEER_TASK,
    {
      batchSize: Number(values["batch-size"]),
      pollingIntervalSeconds: Number(values["poll-ms"]) / 1000,
    },
    async (jobs) => {
      for (const job of jobs) started((job.data as { seq?: unknown }).seq);
      ended(jobs.length);
    },
  );
  return () => boss.stop({ graceful: true, wait: true, timeout: 5000 });
}

async function main(): Promise<void> {
  const url = values.url;
  if (!url) throw new TypeError("Cannot start peer worker: --url is required");
  const system = values.system;
  const stop =
    system === "graphile"
      ? await startGraphile(url)
      : system === "pgboss"
        ? await startPgBoss(url)
        : undefined;
  if (stop === undefined) {
    throw new RangeError(
      `Cannot start peer worker: --system must be graphile or pgboss, got ${system}`,
    );
  }
  console.log(`ready ${epochMs()}`);

  process.once("SIGTERM", () => {
    void stop()
      .catch((error: unknown) => console.error(`error: ${String(error)}`))
      .finally(() => {
        console.log(`summary ${JSON.stringify(counts)}`);
        process.exit(0);
      });
  });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : String(error));
  process.exit(1);
});
