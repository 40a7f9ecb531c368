import { MigrationInterface, QueryRunner } from "typeorm";

/** Each runner's own record of itself, for status and the dashboard. */
export class CreateRunnerHeartbeat1796329923753 implements MigrationInterface {
  name = "CreateRunnerHeartbeat1796329923753";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "blog"."runnerheartbeat" (
        "runnerid" text NOT NULL,
        "host" text NOT NULL,
        "pid" integer NOT NULL,
        "startedat" TIMESTAMP WITH TIME ZONE NOT NULL,
        "lastseenat" TIMESTAMP WITH TIME ZONE NOT NULL,
        "stoppedat" TIMESTAMP WITH TIME ZONE,
        "tasksdone" integer NOT NULL DEFAULT '0',
        "tasksfailed" integer NOT NULL DEFAULT '0',
        "tasksretried" integer NOT NULL DEFAULT '0',
        "tasksinhand" integer NOT NULL DEFAULT '0',
        CONSTRAINT "pk_runnerheartbeat" PRIMARY KEY ("runnerid")
      )`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "blog"."runnerheartbeat"`);
  }
}
