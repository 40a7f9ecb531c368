import type { DataSource } from "typeorm";
import { TaskStatus } from "../../DataLayer/TaskStatus";
import { CHAOS_RESULT_TABLE } from "./ChaosTask";
import {
  CHAOS_TASK_CLASS,
  ChaosKind,
  emptyKindCounts,
  kindOf,
} from "./queueChaosTasks";
import type { RunnerExitRecord } from "./RunnerFleet";

/** ChaosCheck is one property a chaos run must keep, and whether it did. */
export interface ChaosCheck {
  readonly name: string;
  readonly ok: boolean;
  /** The figures behind the verdict, or the offenders when it failed. */
  readonly detail: string;
}

/** ChaosTaskRow is one chaos task as it ended. */
export interface ChaosTaskRow {
  readonly id: string;
  readonly kind: ChaosKind;
  readonly status: TaskStatus;
  readonly attempts: number;
  /** Rows the task wrote into chaos.result. */
  readonly results: number;
  /** The first line of lasterror, or "" when it has none. */
  readonly error: string;
}

/** ChaosTally sums up the chaos tasks as they ended. */
export interface ChaosTally {
  readonly queued: number;
  readonly done: number;
  readonly failed: number;
  readonly pending: number;
  readonly failedByKind: Readonly<Record<ChaosKind, number>>;
  /** Work tasks that failed: each is a finding. */
  readonly innocentFailures: readonly ChaosTaskRow[];
  /** Tasks still pending: each is a finding. */
  readonly stuckTasks: readonly ChaosTaskRow[];
  /** Done work tasks claimed more than once, by kills and restarts. */
  readonly workTasksClaimedAgain: number;
  readonly mostAttemptsOfAWorkTask: number;
}

/** ChaosOutcome is what the run itself observed, to check beside the rows. */
export interface ChaosOutcome {
  readonly queued: Readonly<Record<ChaosKind, number>>;
  readonly stopExits: readonly RunnerExitRecord[];
  readonly unexpectedExits: readonly RunnerExitRecord[];
  readonly kills: { readonly planned: number; readonly done: number };
  readonly databaseRestarts: {
    readonly planned: number;
    readonly done: number;
  };
}

/**
 * The reason each poison kind fails for. A kill can spend a poison task's
 * attempts before its own failure does, so AttemptsExhaustedError is
 * accepted for every kind too. A hung task is stopped by the runner's
 * timer (TaskTimeoutError) or by PostgreSQL's statement_timeout, set to
 * the same limit; whichever fires first names the error.
 */
const EXPECTED_ERRORS: Readonly<Record<ChaosKind, RegExp>> = {
  work: /^$/,
  throw: /Chaos task told to throw|AttemptsExhaustedError/,
  "kill-runner": /AttemptsExhaustedError/,
  hang: /TaskTimeoutError|statement timeout|AttemptsExhaustedError/,
  invalid: /ContractInvalidError|AttemptsExhaustedError/,
};

/**
 * HUNG_TASKS_CHECK names the check that hung tasks fail as the runner
 * documents, with TaskTimeoutError, whichever timer fires first.
 */
export const HUNG_TASKS_CHECK = "Every hung task failed with TaskTimeoutError";

const SHOWN = 10;

/**
 * checkChaosRun reads every chaos task and result after a run and checks
 * what must hold whatever was killed: each task settled, each done task
 * wrote exactly one result, only poison failed, and each for its reason.
 */
export async function checkChaosRun(
  dataSource: DataSource,
  outcome: ChaosOutcome,
): Promise<{ checks: ChaosCheck[]; tally: ChaosTally }> {
  const rows = await readChaosTasks(dataSource);
  const tally = tallyOf(rows, outcome);
  const duplicates = await duplicateResults(dataSource);
  const orphans = await resultsWithoutDoneTask(dataSource);

  const checks = [
    ...taskChecks(rows, tally),
    ...resultChecks(rows, duplicates, orphans),
    ...failureChecks(rows),
    ...runnerChecks(outcome),
  ];
  return { checks, tally };
}

async function readChaosTasks(dataSource: DataSource): Promise<ChaosTaskRow[]> {
  const rows: {
    id: string;
    status: number;
    contractjson: string;
    lasterror: string | null;
    attempts: number;
    results: number;
  }[] = await dataSource.query(
    `SELECT job.id::text AS id, job.status, job.contractjson, job.lasterror,
            coalesce(attempt.attempts, 0) AS attempts,
            (SELECT count(*)::int FROM ${CHAOS_RESULT_TABLE} AS result
             WHERE result.taskid = job.id) AS results
     FROM blog.batchjob AS job
     LEFT JOIN blog.batchjobattempt AS attempt ON attempt.taskid = job.id
     WHERE job.classname = $1
     ORDER BY job.id`,
    [CHAOS_TASK_CLASS],
  );
  return rows.map((row) => ({
    id: row.id,
    kind: kindOf(row.contractjson),
    status: row.status,
    attempts: row.attempts,
    results: row.results,
    error: (row.lasterror ?? "").split("\n")[0],
  }));
}

function tallyOf(
  rows: readonly ChaosTaskRow[],
  outcome: ChaosOutcome,
): ChaosTally {
  const failedByKind = emptyKindCounts();
  for (const row of rows) {
    if (row.status === TaskStatus.Failed) failedByKind[row.kind] += 1;
  }
  const doneWork = rows.filter(
    (row) => row.kind === "work" && row.status === TaskStatus.Done,
  );
  return {
    queued: Object.values(outcome.queued).reduce((sum, n) => sum + n, 0),
    done: rows.filter((row) => row.status === TaskStatus.Done).length,
    failed: rows.filter((row) => row.status === TaskStatus.Failed).length,
    pending: rows.filter((row) => row.status === TaskStatus.Pending).length,
    failedByKind,
    innocentFailures: rows.filter(
      (row) => row.kind === "work" && row.status === TaskStatus.Failed,
    ),
    stuckTasks: rows.filter((row) => row.status === TaskStatus.Pending),
    workTasksClaimedAgain: doneWork.filter((row) => row.attempts > 1).length,
    mostAttemptsOfAWorkTask: Math.max(0, ...doneWork.map((r) => r.attempts)),
  };
}

async function duplicateResults(dataSource: DataSource): Promise<string[]> {
  const rows: { taskid: string }[] = await dataSource.query(
    `SELECT taskid::text AS taskid FROM ${CHAOS_RESULT_TABLE}
     GROUP BY taskid HAVING count(*) > 1`,
  );
  return rows.map((row) => row.taskid);
}

async function resultsWithoutDoneTask(
  dataSource: DataSource,
): Promise<string[]> {
  const rows: { taskid: string }[] = await dataSource.query(
    `SELECT result.taskid::text AS taskid FROM ${CHAOS_RESULT_TABLE} AS result
     LEFT JOIN blog.batchjob AS job ON job.id = result.taskid
     WHERE job.id IS NULL OR job.status <> $1`,
    [TaskStatus.Done],
  );
  return rows.map((row) => row.taskid);
}

function taskChecks(rows: readonly ChaosTaskRow[], tally: ChaosTally) {
  return [
    check(
      "Every queued task is in the table",
      rows.length === tally.queued,
      `${tally.queued} queued, ${rows.length} found`,
    ),
    check(
      "No task is pending",
      tally.pending === 0,
      tally.pending === 0 ? "0 pending" : describeRows(tally.stuckTasks),
    ),
    check(
      "Tasks queued = done + failed",
      tally.queued === tally.done + tally.failed,
      `${tally.queued} queued, ${tally.done} done, ${tally.failed} failed`,
    ),
  ];
}

function resultChecks(
  rows: readonly ChaosTaskRow[],
  duplicates: readonly string[],
  orphans: readonly string[],
) {
  const done = rows.filter((row) => row.status === TaskStatus.Done);
  const notOnce = done.filter((row) => row.results !== 1);
  const failedWithResult = rows.filter(
    (row) => row.status === TaskStatus.Failed && row.results > 0,
  );
  return [
    check(
      "Every done task has exactly one result",
      notOnce.length === 0,
      notOnce.length === 0
        ? `${done.length} done tasks, ${done.length} results`
        : describeRows(notOnce),
    ),
    check(
      "No failed task has a result",
      failedWithResult.length === 0,
      failedWithResult.length === 0 ? "none" : describeRows(failedWithResult),
    ),
    check(
      "Every result belongs to a done task",
      orphans.length === 0,
      orphans.length === 0 ? "all do" : `task ids ${listIds(orphans)}`,
    ),
    check(
      "No task id appears twice in chaos.result",
      duplicates.length === 0,
      duplicates.length === 0 ? "none" : `task ids ${listIds(duplicates)}`,
    ),
  ];
}

function failureChecks(rows: readonly ChaosTaskRow[]) {
  const failed = rows.filter((row) => row.status === TaskStatus.Failed);
  const silent = failed.filter((row) => row.error.trim() === "");
  const innocent = failed.filter((row) => row.kind === "work");
  const poison = rows.filter((row) => row.kind !== "work");
  const wrong = poison.filter(
    (row) =>
      row.status !== TaskStatus.Failed ||
      !EXPECTED_ERRORS[row.kind].test(row.error),
  );
  return [
    check(
      "Every failed task has a lasterror",
      silent.length === 0,
      silent.length === 0 ? `${failed.length} failed` : describeRows(silent),
    ),
    check(
      "No innocent work task failed",
      innocent.length === 0,
      innocent.length === 0 ? "none" : describeRows(innocent),
    ),
    check(
      "Every poison task failed for its own reason",
      wrong.length === 0,
      wrong.length === 0
        ? `${poison.length} poison tasks`
        : describeRows(wrong),
    ),
    hungTasksCheck(rows),
  ];
}

function hungTasksCheck(rows: readonly ChaosTaskRow[]): ChaosCheck {
  const hung = rows.filter((row) => row.kind === "hang");
  const misnamed = hung.filter(
    (row) => !/TaskTimeoutError|AttemptsExhaustedError/.test(row.error),
  );
  return check(
    HUNG_TASKS_CHECK,
    misnamed.length === 0,
    misnamed.length === 0
      ? `${hung.length} hung tasks`
      : describeRows(misnamed),
  );
}

function runnerChecks(outcome: ChaosOutcome) {
  const bad = outcome.stopExits.filter((exit) => exit.code !== 0);
  const { kills, databaseRestarts: restarts } = outcome;
  return [
    check(
      "Every runner exited 0 on SIGTERM",
      bad.length === 0 && outcome.stopExits.length > 0,
      bad.length === 0
        ? `${outcome.stopExits.length} runners`
        : describeExits(bad),
    ),
    check(
      "No runner died unexpectedly",
      outcome.unexpectedExits.length === 0,
      outcome.unexpectedExits.length === 0
        ? "none"
        : describeExits(outcome.unexpectedExits),
    ),
    check(
      "The planned chaos happened",
      kills.done === kills.planned && restarts.done === restarts.planned,
      `${kills.done} of ${kills.planned} kills, ` +
        `${restarts.done} of ${restarts.planned} database restarts`,
    ),
  ];
}

function check(name: string, ok: boolean, detail: string): ChaosCheck {
  return { name, ok, detail };
}

function describeRows(rows: readonly ChaosTaskRow[]): string {
  const shown = rows
    .slice(0, SHOWN)
    .map(
      (row) =>
        `task ${row.id} (${row.kind}, status ${row.status}, ` +
        `${row.attempts} attempts, ${row.results} results` +
        `${row.error ? `, ${row.error}` : ""})`,
    );
  const more = rows.length > SHOWN ? ` and ${rows.length - SHOWN} more` : "";
  return `${rows.length}: ${shown.join("; ")}${more}`;
}

function describeExits(exits: readonly RunnerExitRecord[]): string {
  return exits
    .map((exit) => `${exit.runnerId} ${exit.signal ?? `code ${exit.code}`}`)
    .join(", ");
}

function listIds(ids: readonly string[]): string {
  const more = ids.length > SHOWN ? ` and ${ids.length - SHOWN} more` : "";
  return `${ids.slice(0, SHOWN).join(", ")}${more}`;
}
