import { Column, Entity, Index, PrimaryGeneratedColumn } from "typeorm";
import { TaskStatus } from "../TaskStatus";

/**
 * BatchJob is one queued task: which task class runs it, which contract
 * class its JSON becomes, and how it ended.
 */
@Entity({ schema: "blog", name: "batchjob" })
// The index on status leaves out the pending tasks, which the claim's
// two indexes below hold: a queued task then costs one index insert.
@Index("ix_batchjob_status", ["status"], { where: `"status" <> 0` })
// The claim's index of fresh tasks: pending and not waiting to retry. It
// holds no finished rows, so millions of them stay out of the claim's way,
// and none that waits, so a queue of tasks backing off does not either.
@Index("ix_batchjob_fresh", ["id"], {
  where: `"status" = 0 AND "notbefore" IS NULL`,
})
// The tasks waiting to retry, by when they are due: the claim takes those
// that are due from its head, and a runner told to stop at an empty queue
// reads there when the next one is.
@Index("ix_batchjob_waiting", ["notBefore"], {
  where: `"status" = 0 AND "notbefore" IS NOT NULL`,
})
export class BatchJob {
  /** A bigint, which the driver returns as a string to keep its precision. */
  @PrimaryGeneratedColumn("identity", {
    name: "id",
    type: "bigint",
    generatedIdentity: "BY DEFAULT",
    primaryKeyConstraintName: "pk_batchjob",
  })
  id!: string;

  @Column({ name: "classname", type: "text" })
  className!: string;

  @Column({ name: "contractname", type: "text" })
  contractName!: string;

  @Column({ name: "contractjson", type: "text" })
  contractJson!: string;

  @Column({ name: "status", type: "integer", default: TaskStatus.Pending })
  status!: TaskStatus;

  @Column({ name: "startedat", type: "timestamptz", nullable: true })
  startedAt!: Date | null;

  @Column({ name: "stoppedat", type: "timestamptz", nullable: true })
  stoppedAt!: Date | null;

  /** The runner that ended the task, for reports and for audits. */
  @Column({ name: "runnerid", type: "text", nullable: true })
  runnerId!: string | null;

  /** Why the task failed: the error's name, message and a bounded stack. */
  @Column({ name: "lasterror", type: "text", nullable: true })
  lastError!: string | null;

  /** Attempts allowed before the task is failed for good. */
  @Column({ name: "maxattempts", type: "integer", default: 5 })
  maxAttempts!: number;

  /** A retried task waits until then; null means at once. */
  @Column({ name: "notbefore", type: "timestamptz", nullable: true })
  notBefore!: Date | null;

  /** When the task was queued, by the database's clock. */
  @Column({ name: "enqueuedat", type: "timestamptz", default: () => "now()" })
  enqueuedAt!: Date;

  /** This task's time limit in milliseconds; null takes the runner's. */
  @Column({ name: "timeoutms", type: "integer", nullable: true })
  timeoutMs!: number | null;
}
