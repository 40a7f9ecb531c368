import type { QueryRunner } from "typeorm";

/**
 * recordSentQueries connects `queryRunner` and notes the text of each query
 * its pg client is sent, TypeORM's own and those sent past it, such as the
 * claim that carries its BEGIN.
 */
export async function recordSentQueries(
  queryRunner: QueryRunner,
): Promise<string[]> {
  const client = (await queryRunner.connect()) as {
    query: (...args: unknown[]) => unknown;
  };
  const sent: string[] = [];
  const query = client.query.bind(client);
  client.query = (...args: unknown[]) => {
    // A query object, such as pg's Query, carries its text.
    const [sql] = args as [{ text?: unknown } | string];
    sent.push(String(typeof sql === "object" ? sql.text : sql));
    return query(...args);
  };
  return sent;
}
