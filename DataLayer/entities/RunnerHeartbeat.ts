import { Column, Entity, PrimaryColumn } from "typeorm";

/**
 * RunnerHeartbeat is what each runner says about itself, written on its own
 * connection every few seconds: who and where it is, since when, and what
 * it has done. A runner whose `lastseenat` is old has died; its row stays
 * for the record but says nothing about the present.
 */
@Entity({ schema: "blog", name: "runnerheartbeat" })
export class RunnerHeartbeat {
  @PrimaryColumn({
    name: "runnerid",
    type: "text",
    primaryKeyConstraintName: "pk_runnerheartbeat",
  })
  runnerId!: string;

  @Column({ name: "host", type: "text" })
  host!: string;

  @Column({ name: "pid", type: "integer" })
  pid!: number;

  @Column({ name: "startedat", type: "timestamptz" })
  startedAt!: Date;

  @Column({ name: "lastseenat", type: "timestamptz" })
  lastSeenAt!: Date;

  /** Set when the runner stopped cleanly; null while it runs or if it died. */
  @Column({ name: "stoppedat", type: "timestamptz", nullable: true })
  stoppedAt!: Date | null;

  @Column({ name: "tasksdone", type: "integer", default: 0 })
  tasksDone!: number;

  @Column({ name: "tasksfailed", type: "integer", default: 0 })
  tasksFailed!: number;

  @Column({ name: "tasksretried", type: "integer", default: 0 })
  tasksRetried!: number;

  /** Tasks in the round the runner was running when it last wrote. */
  @Column({ name: "tasksinhand", type: "integer", default: 0 })
  tasksInHand!: number;
}
