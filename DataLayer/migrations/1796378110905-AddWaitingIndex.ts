import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * An index of the tasks waiting to retry, by when they are due. A runner
 * told to stop at an empty queue asks when the next retry is due before it
 * exits, and without this index that read every pending row: 80 ms a
 * lane, for each of the 40 lanes of 20 runners at the end of a drain of
 * 100,000 tasks, and far more for a queue of tasks all backing off. It holds only the tasks that
 * failed and wait, so queueing costs nothing more. The build reads the
 * whole table and locks out writes to it while it runs: run it with the
 * runners stopped.
 */
export class AddWaitingIndex1796378110905 implements MigrationInterface {
  name = "AddWaitingIndex1796378110905";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX "ix_batchjob_waiting" ON "blog"."batchjob" ("notbefore") WHERE "status" = 0 AND "notbefore" IS NOT NULL`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "blog"."ix_batchjob_waiting"`);
  }
}
