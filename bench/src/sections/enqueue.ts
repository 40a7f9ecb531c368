import { connectTo, product } from "../product";
import { buildNoopTasks, enqueueAll } from "../ours";
import { openGraphile, openPgBoss, Peer } from "../peers/peerSetup";
import { PEER_TASK } from "../peers/peerTask";
import type { Section, SectionContext, SectionReport } from "../section";
import { epochMs, rate, round } from "../stats";

const DATABASE = "bench_enqueue";

interface EnqueueRow {
  readonly system: string;
  readonly call: string;
  readonly tasks: number;
  readonly seconds: number;
  readonly perSecond: number;
}

/**
 * enqueue times bulk queueing: our enqueueTasks (one transaction, one
 * COPY from 1,000 tasks on) against graphile-worker's
 * WorkerUtils.addJobs and pg-boss's insert, both called per 10,000 jobs.
 * Each size gets a fresh database. Building our tasks, which validates
 * each contract through the registry, is not timed.
 */
export const enqueueSection: Section = {
  name: "enqueue",
  async run(context: SectionContext): Promise<SectionReport> {
    const rows: EnqueueRow[] = [];
    for (const size of context.plan.enqueueSizes) {
      rows.push(await timeOurs(context, size));
      rows.push(
        await timePeer(context, size, "graphile-worker", "addJobs", (url) =>
          openGraphile(url),
        ),
      );
      rows.push(
        await timePeer(context, size, "pg-boss", "insert", (url) =>
          openPgBoss(url, PEER_TASK),
        ),
      );
    }
    await context.server.dropDatabase(DATABASE);
    return {
      data: rows,
      tables: [
        {
          title: "Enqueue (bulk)",
          columns: ["system", "call", "tasks", "seconds", "tasks/s"],
          rows: rows.map((row) => [
            row.system,
            row.call,
            row.tasks,
            row.seconds,
            row.perSecond,
          ]),
        },
      ],
    };
  },
};

async function timeOurs(
  context: SectionContext,
  size: number,
): Promise<EnqueueRow> {
  context.progress(`Enqueue: ours, ${size} tasks`);
  const url = await context.server.freshDatabase(DATABASE);
  const dataSource = await connectTo(url);
  try {
    await product().migrate(dataSource);
    const tasks = buildNoopTasks(size);
    const started = epochMs();
    await enqueueAll(dataSource, tasks);
    return row("ours", "enqueueTasks", size, epochMs() - started);
  } finally {
    await dataSource.destroy();
  }
}

async function timePeer(
  context: SectionContext,
  size: number,
  system: string,
  call: string,
  open: (url: string) => Promise<Peer>,
): Promise<EnqueueRow> {
  context.progress(`Enqueue: ${system}, ${size} tasks`);
  const url = await context.server.freshDatabase(DATABASE);
  const peer = await open(url);
  try {
    const started = epochMs();
    await peer.enqueue(size);
    return row(system, call, size, epochMs() - started);
  } finally {
    await peer.close();
  }
}

function row(
  system: string,
  call: string,
  tasks: number,
  ms: number,
): EnqueueRow {
  return {
    system,
    call,
    tasks,
    seconds: round(ms / 1000, 2),
    perSecond: round(rate(tasks, ms)),
  };
}
