import { setTimeout as sleep } from "node:timers/promises";
import { Expose } from "class-transformer";
import { IsIn, IsInt, IsOptional, Max, Min } from "class-validator";
import type { DataSource } from "typeorm";
import type { IContract } from "../../Contracts/IContract";
import type { ITaskfy, TaskContext } from "../../Contracts/ITaskfy";
import { BatchContract, BatchTask } from "../../Contracts/TaskRegistry";

/** What a chaos task does when it runs. */
export const CHAOS_MODES = ["work", "throw", "kill-runner", "hang"] as const;
export type ChaosMode = (typeof CHAOS_MODES)[number];

/**
 * ChaosContract tells a ChaosTask how to behave: do short work, always
 * throw, kill the runner that runs it, or hang past any time limit.
 */
@BatchContract("ChaosContract")
export class ChaosContract implements IContract {
  @Expose({ name: "Mode" })
  @IsIn(CHAOS_MODES)
  mode!: ChaosMode;

  /** Milliseconds of work before writing the result; default 0. */
  @Expose({ name: "WorkMs" })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(60_000)
  workMs?: number;

  /** of builds a contract. */
  static of(mode: ChaosMode, workMs?: number): ChaosContract {
    const contract = new ChaosContract();
    contract.mode = mode;
    if (workMs !== undefined) contract.workMs = workMs;
    return contract;
  }
}

/** The schema and table where chaos tasks write their results. */
export const CHAOS_RESULT_TABLE = "chaos.result";

/**
 * ChaosTask writes one row per run into chaos.result, in the runner's
 * transaction, keyed by task: a task that ran twice into its result would
 * break the key. Runners load it with `--tasks dist/Demo/chaos/ChaosTask.js`.
 */
@BatchTask({ name: "ChaosTask", contract: ChaosContract })
export class ChaosTask implements ITaskfy<ChaosContract> {
  async execute(contract: ChaosContract, context: TaskContext): Promise<void> {
    if (contract.mode === "kill-runner") process.kill(process.pid, "SIGKILL");
    if (contract.mode === "throw") throw new Error("Chaos task told to throw");
    if (contract.mode === "hang") {
      await context.manager.query("SELECT pg_sleep(3600)");
    }
    if (contract.workMs) {
      await sleep(contract.workMs, undefined, { signal: context.signal });
    }
    await context.manager.query(
      `INSERT INTO ${CHAOS_RESULT_TABLE} (taskid, runnerid) VALUES ($1, $2)`,
      [context.taskId, context.runnerId],
    );
  }
}

/** createChaosTables creates, or empties, the chaos result table. */
export async function createChaosTables(dataSource: DataSource): Promise<void> {
  await dataSource.query("CREATE SCHEMA IF NOT EXISTS chaos");
  await dataSource.query(
    `CREATE TABLE IF NOT EXISTS ${CHAOS_RESULT_TABLE} (
       taskid bigint CONSTRAINT pk_chaos_result PRIMARY KEY,
       runnerid text NOT NULL,
       writtenat timestamptz NOT NULL DEFAULT now()
     )`,
  );
  await dataSource.query(`TRUNCATE ${CHAOS_RESULT_TABLE}`);
}
