/**
 * peerSetup installs the peer systems in a database, queues their jobs in
 * bulk and starts their worker processes.
 */
import * as path from "node:path";
import { makeWorkerUtils, WorkerUtils } from "graphile-worker";
import PgBoss from "pg-boss";
import { Client } from "pg";
import { launchNode, Started } from "../processes";
import { PEER_TASK } from "./peerTask";

/** The worker process script, compiled next to this file. */
const PEER_WORKER = path.join(__dirname, "peerWorker.js");

/** Rows per bulk call, the same chunk our enqueueTasks uses. */
const CHUNK = 10_000;

/** A Peer is a peer system installed in one database. */
export interface Peer {
  /**
   * enqueue adds `count` no-op jobs in bulk, numbered from `firstSeq`: in
   * calls of CHUNK jobs, or with `atOnce` in one call, which the system
   * commits as one statement.
   */
  enqueue(
    count: number,
    firstSeq?: number,
    options?: EnqueueOptions,
  ): Promise<void>;
  /** enqueueOne adds one job by the system's ordinary single-job call. */
  enqueueOne(seq: number): Promise<void>;
  /** clear removes finished jobs left from an earlier run. */
  clear(): Promise<void>;
  /** done counts finished jobs of the current queue. */
  done(expected: number): Promise<number>;
  /**
   * drained tells whether all `expected` jobs of the current queue are
   * finished, as cheaply as the system allows: the drain polls it.
   */
  drained(expected: number): Promise<boolean>;
  close(): Promise<void>;
}

export interface EnqueueOptions {
  readonly atOnce?: boolean;
}

/** openGraphile installs graphile-worker's schema and opens WorkerUtils. */
export async function openGraphile(url: string): Promise<Peer> {
  const utils: WorkerUtils = await makeWorkerUtils({ connectionString: url });
  await utils.migrate();
  const client = new Client({ connectionString: url });
  await client.connect();
  return {
    async enqueue(count, firstSeq = 0, options = {}) {
      await inChunks(count, firstSeq, chunkOf(count, options), (seqs) =>
        utils.addJobs(
          seqs.map((seq) => ({ identifier: PEER_TASK, payload: { seq } })),
        ),
      );
    },
    async enqueueOne(seq) {
      await utils.addJob(PEER_TASK, { seq });
    },
    // graphile-worker deletes a job when it succeeds: nothing is left.
    async clear() {},
    async done(expected) {
      const result = await client.query(
        "SELECT count(*)::int AS left FROM graphile_worker._private_jobs",
      );
      return expected - result.rows[0].left;
    },
    // Reads the first key rather than counting what is left, which reads
    // every job and every dead version the drain leaves behind.
    async drained() {
      const result = await client.query(
        `SELECT (SELECT id FROM graphile_worker._private_jobs
                  ORDER BY id LIMIT 1) IS NULL AS drained`,
      );
      return result.rows[0].drained;
    },
    async close() {
      await utils.release();
      await client.end();
    },
  };
}

/**
 * openPgBoss installs pg-boss's schema and creates `queue`. Maintenance
 * and scheduling stay off here and in the workers, so no background work
 * competes with the measured loop.
 */
export async function openPgBoss(url: string, queue: string): Promise<Peer> {
  const boss = new PgBoss({
    connectionString: url,
    supervise: false,
    schedule: false,
    max: 4,
  });
  boss.on("error", () => undefined);
  await boss.start();
  await boss.createQueue(queue);
  const client = new Client({ connectionString: url });
  await client.connect();
  const done = async () => {
    const result = await client.query(
      "SELECT count(*)::int AS done FROM pgboss.job WHERE name = $1 AND state = 'completed'",
      [queue],
    );
    return result.rows[0].done as number;
  };
  return {
    async enqueue(count, firstSeq = 0, options = {}) {
      await inChunks(count, firstSeq, chunkOf(count, options), (seqs) =>
        boss.insert(seqs.map((seq) => ({ name: queue, data: { seq } }))),
      );
    },
    async enqueueOne(seq) {
      await boss.send(queue, { seq });
    },
    async clear() {
      await client.query("DELETE FROM pgboss.job WHERE name = $1", [queue]);
    },
    done,
    async drained(expected) {
      return (await done()) >= expected;
    },
    async close() {
      await boss.stop({ graceful: false, wait: true, timeout: 2000 });
      await client.end();
    },
  };
}

/** PeerWorkerOptions are a peer worker process's command-line options. */
export interface PeerWorkerOptions {
  readonly system: "graphile" | "pgboss";
  readonly url: string;
  readonly queue?: string;
  readonly concurrency?: number;
  readonly localQueue?: number;
  readonly batchSize?: number;
  readonly pollMs?: number;
  readonly reportStarts?: boolean;
  /** Have each worker say when it starts its first job from this number. */
  readonly markFrom?: number;
}

/** The peers' best settings here, which both throughput sections use. */
export const GRAPHILE_BEST = {
  name: "concurrency 10, local queue 500",
  options: { system: "graphile", concurrency: 10, localQueue: 500 },
} as const;
export const PGBOSS_BEST = {
  name: "batchSize 500",
  options: { system: "pgboss", queue: PEER_TASK, batchSize: 500, pollMs: 500 },
} as const;

/** launchPeerWorkers starts `count` peer worker processes. */
export function launchPeerWorkers(
  count: number,
  options: PeerWorkerOptions,
  onLine: (name: string, line: string) => void,
): Started[] {
  const args = [
    PEER_WORKER,
    "--system",
    options.system,
    "--url",
    options.url,
    ...(options.queue ? ["--queue", options.queue] : []),
    ...(options.concurrency
      ? ["--concurrency", String(options.concurrency)]
      : []),
    ...(options.localQueue
      ? ["--local-queue", String(options.localQueue)]
      : []),
    ...(options.batchSize ? ["--batch-size", String(options.batchSize)] : []),
    ...(options.pollMs ? ["--poll-ms", String(options.pollMs)] : []),
    ...(options.reportStarts ? ["--report-starts"] : []),
    ...(options.markFrom !== undefined
      ? ["--mark-from", String(options.markFrom)]
      : []),
  ];
  return Array.from({ length: count }, (_, index) => {
    const name = `${options.system}-${index + 1}`;
    return launchNode({ name, args, onLine: (line) => onLine(name, line) });
  });
}

function chunkOf(count: number, options: EnqueueOptions): number {
  return options.atOnce ? Math.max(1, count) : CHUNK;
}

/**
 * inChunks hands the sequence numbers firstSeq .. firstSeq + count - 1 to
 * `insert` in bulk calls of at most `chunk`, one after another.
 */
async function inChunks(
  count: number,
  firstSeq: number,
  chunk: number,
  insert: (seqs: number[]) => Promise<unknown>,
): Promise<void> {
  for (let start = 0; start < count; start += chunk) {
    const size = Math.min(chunk, count - start);
    await insert(Array.from({ length: size }, (_, i) => firstSeq + start + i));
  }
}
