import type { DataSource, EntityManager } from "typeorm";
import { BatchError } from "../../Contracts/errors";
import { taskRegistry } from "../../Contracts/TaskRegistry";
import { enqueueTasks, NewTask } from "../../DataLayer/enqueue";
import { migrate } from "../../DataLayer/migrate";
import { TaskStatus } from "../../DataLayer/TaskStatus";
import { ChaosContract, ChaosMode, createChaosTables } from "./ChaosTask";
import {
  ChaosPlan,
  KILLING_TASK_MAX_ATTEMPTS,
  poisonTotal,
  Random,
  randomInt,
  shuffle,
} from "./chaosPlan";

/** ChaosKind is what a queued chaos task was meant to do. */
export type ChaosKind = ChaosMode | "invalid";

/** The task class every chaos row names. */
export const CHAOS_TASK_CLASS = "ChaosTask";

/** The contract an invalid row carries: a mode that does not exist. */
const INVALID_CONTRACT_JSON = JSON.stringify({ Mode: "dance" });

/** Per-kind limits written into the rows; unset ones keep the defaults. */
const LIMITS: Readonly<
  Record<ChaosKind, { maxAttempts?: number; timeoutMs?: number }>
> = {
  work: {},
  throw: { maxAttempts: 3 },
  "kill-runner": { maxAttempts: KILLING_TASK_MAX_ATTEMPTS },
  hang: { maxAttempts: 2, timeoutMs: 500 },
  invalid: {},
};

/**
 * ChaosDatabaseInUseError: the task table holds pending tasks that are not
 * the chaos run's, which its runners would claim and its checks miscount.
 */
export class ChaosDatabaseInUseError extends BatchError {
  constructor(readonly pendingTasks: number) {
    super(
      `Cannot run chaos: blog.batchjob holds ${pendingTasks} pending tasks of other classes; use a database of its own`,
    );
  }
}

/**
 * prepareChaosDatabase migrates, creates or empties chaos.result and
 * removes the tasks and attempts of an earlier chaos run.
 *
 * @throws {ChaosDatabaseInUseError} when other tasks are pending.
 */
export async function prepareChaosDatabase(
  dataSource: DataSource,
): Promise<void> {
  await migrate(dataSource);
  await createChaosTables(dataSource);

  const [row] = await dataSource.query(
    "SELECT count(*)::int AS n FROM blog.batchjob " +
      "WHERE classname <> $1 AND status = $2",
    [CHAOS_TASK_CLASS, TaskStatus.Pending],
  );
  if (row.n > 0) throw new ChaosDatabaseInUseError(row.n);

  await dataSource.query(
    "DELETE FROM blog.batchjobattempt WHERE taskid IN " +
      "(SELECT id FROM blog.batchjob WHERE classname = $1)",
    [CHAOS_TASK_CLASS],
  );
  await dataSource.query("DELETE FROM blog.batchjob WHERE classname = $1", [
    CHAOS_TASK_CLASS,
  ]);
}

/**
 * queueChaosTasks queues the plan's tasks in random order, in one
 * transaction: mostly work, plus the poison, with each kind's attempts
 * and time limit. It returns how many tasks of each kind it queued.
 */
export async function queueChaosTasks(
  dataSource: DataSource,
  plan: ChaosPlan,
  random: Random,
): Promise<Record<ChaosKind, number>> {
  const kinds = shuffle(kindsOf(plan), random);
  const tasks = kinds.map((kind) => newTask(kind, plan, random));

  await dataSource.transaction(async (manager) => {
    await enqueueTasks(manager, tasks);
    await applyLimits(manager);
  });
  return countKinds(kinds);
}

/** kindOf tells a chaos row's kind from its contract JSON. */
export function kindOf(contractJson: string): ChaosKind {
  try {
    const mode: unknown = JSON.parse(contractJson)?.Mode;
    if (mode === "work" || mode === "throw" || mode === "hang") return mode;
    if (mode === "kill-runner") return mode;
  } catch {
    // Not JSON at all: as invalid as a mode that does not exist.
  }
  return "invalid";
}

function kindsOf(plan: ChaosPlan): ChaosKind[] {
  const { throwing, killing, hanging, invalid } = plan.poison;
  return [
    ...Array<ChaosKind>(plan.tasks - poisonTotal(plan.poison)).fill("work"),
    ...Array<ChaosKind>(throwing).fill("throw"),
    ...Array<ChaosKind>(killing).fill("kill-runner"),
    ...Array<ChaosKind>(hanging).fill("hang"),
    ...Array<ChaosKind>(invalid).fill("invalid"),
  ];
}

function newTask(kind: ChaosKind, plan: ChaosPlan, random: Random): NewTask {
  const names = { className: CHAOS_TASK_CLASS, contractName: "ChaosContract" };
  if (kind === "invalid") {
    return { ...names, contractJson: INVALID_CONTRACT_JSON };
  }
  const workMs =
    kind === "work" ? randomInt(random, 0, plan.maxWorkMs) : undefined;
  const { contractJson } = taskRegistry.serialize(
    ChaosContract.of(kind, workMs),
  );
  return { ...names, contractJson };
}

/**
 * applyLimits sets each poison kind's attempts and time limit by the mode
 * in its JSON, inside the queueing transaction, so no runner ever sees a
 * poison row with the default limits.
 */
async function applyLimits(manager: EntityManager): Promise<void> {
  for (const [kind, limits] of Object.entries(LIMITS)) {
    if (limits.maxAttempts === undefined && limits.timeoutMs === undefined) {
      continue;
    }
    await manager.query(
      `UPDATE blog.batchjob
       SET maxattempts = coalesce($1, maxattempts), timeoutms = $2
       WHERE classname = $3 AND contractjson::jsonb ->> 'Mode' = $4`,
      [
        limits.maxAttempts ?? null,
        limits.timeoutMs ?? null,
        CHAOS_TASK_CLASS,
        kind,
      ],
    );
  }
}

function countKinds(kinds: readonly ChaosKind[]): Record<ChaosKind, number> {
  const counts = emptyKindCounts();
  for (const kind of kinds) counts[kind] += 1;
  return counts;
}

/** emptyKindCounts gives a zero count for every kind. */
export function emptyKindCounts(): Record<ChaosKind, number> {
  return { work: 0, throw: 0, "kill-runner": 0, hang: 0, invalid: 0 };
}
