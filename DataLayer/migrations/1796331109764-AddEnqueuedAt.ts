import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * When each task was queued, so that status can tell how long the oldest
 * pending task has waited. Existing rows get the migration's time.
 */
export class AddEnqueuedAt1796331109764 implements MigrationInterface {
  name = "AddEnqueuedAt1796331109764";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "blog"."batchjob" ADD "enqueuedat" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now()`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "blog"."batchjob" DROP COLUMN "enqueuedat"`,
    );
  }
}
