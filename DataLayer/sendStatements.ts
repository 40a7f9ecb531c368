import { type ClientBase, Query, type QueryResult } from "pg";

/** The command tag PostgreSQL completes a COMMIT that committed with. */
export const COMMITTED_TAG = "COMMIT";

/** What pg hands a query for each statement the server completed. */
interface CommandComplete {
  readonly text: string;
}

/**
 * A simple-protocol query that notes the command tag of each statement
 * the server completes. pg drops the results of the statements before a
 * failed one, yet those ran: a COMMIT among them committed.
 */
class TaggedQuery extends Query {
  readonly tags: string[] = [];

  handleCommandComplete(message: CommandComplete, connection: unknown): void {
    this.tags.push(message.text);
    (
      Query.prototype as unknown as {
        handleCommandComplete(
          message: CommandComplete,
          connection: unknown,
        ): void;
      }
    ).handleCommandComplete.call(this, message, connection);
  }
}

/**
 * sendStatements runs `sql`, statements separated by semicolons, in one
 * simple-protocol query on `client`, and gives each one's result.
 * `completedTags` receives, in order, the command tag of every statement
 * the server completed, also when a later one fails.
 */
export function sendStatements(
  sql: string,
  client: ClientBase,
  completedTags: string[],
): Promise<QueryResult[]> {
  return new Promise((resolve, reject) => {
    const query = new TaggedQuery(sql);
    const settle = () => completedTags.push(...query.tags);
    query.on("error", (error: Error) => {
      settle();
      reject(error);
    });
    query.on("end", (results: QueryResult | QueryResult[]) => {
      settle();
      resolve(Array.isArray(results) ? results : [results]);
    });
    client.query(query);
  });
}
