import { Column, Entity, PrimaryColumn } from "typeorm";

/**
 * BatchJobAttempt counts how often a task was claimed. A runner commits it
 * on a second connection as soon as it claims, outside the round's
 * transaction, so the count survives a runner that dies mid-task: the
 * round's own writes vanish with it. There is deliberately no foreign key
 * to batchjob: checking one takes a KEY SHARE lock on the task's row, which
 * the round's FOR UPDATE claim blocks.
 */
@Entity({ schema: "blog", name: "batchjobattempt" })
export class BatchJobAttempt {
  @PrimaryColumn({
    name: "taskid",
    type: "bigint",
    primaryKeyConstraintName: "pk_batchjobattempt",
  })
  taskId!: string;

  @Column({ name: "attempts", type: "integer" })
  attempts!: number;

  /** The runner that claimed the task last. */
  @Column({ name: "runnerid", type: "text" })
  runnerId!: string;

  @Column({ name: "claimedat", type: "timestamptz" })
  claimedAt!: Date;
}
