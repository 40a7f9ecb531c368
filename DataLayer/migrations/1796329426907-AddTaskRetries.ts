import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Retries: a per-task attempt limit, a time before which a retried task
 * waits, a per-task time limit, and the attempt count that a runner commits
 * outside its round so that a crash still spends an attempt.
 */
export class AddTaskRetries1796329426907 implements MigrationInterface {
  name = "AddTaskRetries1796329426907";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "blog"."batchjobattempt" (
        "taskid" bigint NOT NULL,
        "attempts" integer NOT NULL,
        "runnerid" text NOT NULL,
        "claimedat" TIMESTAMP WITH TIME ZONE NOT NULL,
        CONSTRAINT "pk_batchjobattempt" PRIMARY KEY ("taskid")
      )`,
    );
    await queryRunner.query(
      `ALTER TABLE "blog"."batchjob"
        ADD "maxattempts" integer NOT NULL DEFAULT '5',
        ADD "notbefore" TIMESTAMP WITH TIME ZONE,
        ADD "timeoutms" integer`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "blog"."batchjob"
        DROP COLUMN "timeoutms",
        DROP COLUMN "notbefore",
        DROP COLUMN "maxattempts"`,
    );
    await queryRunner.query(`DROP TABLE "blog"."batchjobattempt"`);
  }
}
