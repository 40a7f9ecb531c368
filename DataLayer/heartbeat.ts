import type { DataSource } from "typeorm";
import { RunnerHeartbeat } from "./entities/RunnerHeartbeat";
import { tableOf } from "./identifiers";

/** HeartbeatRecord is what a runner writes about itself. */
export interface HeartbeatRecord {
  readonly runnerId: string;
  readonly host: string;
  readonly pid: number;
  readonly startedAt: Date;
  readonly tasksDone: number;
  readonly tasksFailed: number;
  readonly tasksRetried: number;
  readonly tasksInHand: number;
  /** Set on the last beat of a runner that stops cleanly. */
  readonly stopped: boolean;
}

/**
 * writeHeartbeat records that a runner is alive, with the database's clock
 * so that runners on servers with skewed clocks compare fairly. A runner
 * restarted under the same id starts a fresh record.
 */
export async function writeHeartbeat(
  dataSource: DataSource,
  record: HeartbeatRecord,
): Promise<void> {
  const table = tableOf(dataSource.manager, RunnerHeartbeat);
  await dataSource.query(
    `INSERT INTO ${table} AS beat (runnerid, host, pid, startedat, lastseenat,
       stoppedat, tasksdone, tasksfailed, tasksretried, tasksinhand)
     VALUES ($1, $2, $3, $4, now(), CASE WHEN $5 THEN now() END, $6, $7, $8, $9)
     ON CONFLICT (runnerid) DO UPDATE SET
       host = excluded.host, pid = excluded.pid, startedat = excluded.startedat,
       lastseenat = excluded.lastseenat, stoppedat = excluded.stoppedat,
       tasksdone = excluded.tasksdone, tasksfailed = excluded.tasksfailed,
       tasksretried = excluded.tasksretried, tasksinhand = excluded.tasksinhand`,
    [
      record.runnerId,
      record.host,
      record.pid,
      record.startedAt,
      record.stopped,
      record.tasksDone,
      record.tasksFailed,
      record.tasksRetried,
      record.tasksInHand,
    ],
  );
}
