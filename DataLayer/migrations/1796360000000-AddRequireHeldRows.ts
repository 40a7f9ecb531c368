import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * A function that a round's commit calls after writing its outcomes, with
 * the count of rows written and the count of tasks it holds: when they
 * differ, it raises SQLSTATE BJ001, which fails the round's transaction
 * before the COMMIT sent with it can run. Plain SQL cannot raise an error,
 * and an anonymous DO block in every round cost the server more than the
 * statement it guarded. Written by hand: TypeORM does not manage functions.
 */
export class AddRequireHeldRows1796360000000 implements MigrationInterface {
  name = "AddRequireHeldRows1796360000000";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE FUNCTION "blog"."require_held_rows"(recorded bigint, expected bigint)
       RETURNS void LANGUAGE plpgsql AS $$
       BEGIN
         IF recorded IS DISTINCT FROM expected THEN
           RAISE EXCEPTION USING
             ERRCODE = 'BJ001',
             MESSAGE = format(
               'Cannot record the round: expected %s held rows, updated %s',
               expected, recorded),
             DETAIL = recorded::text;
         END IF;
       END
       $$`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `DROP FUNCTION "blog"."require_held_rows"(bigint, bigint)`,
    );
  }
}
