// The largest value of a bigint column; a longer id cannot name a task.
const MAX_TASK_ID = 9_223_372_036_854_775_807n;

/**
 * checkTaskIds returns the ids without duplicates, in their given order.
 * `action` opens the message, as in "Cannot requeue tasks".
 *
 * @throws {RangeError} when the list is empty or an id is not a positive
 *   integer that fits a bigint.
 */
export function checkTaskIds(action: string, ids: readonly string[]): string[] {
  if (ids.length === 0) throw new RangeError(`${action}: no task id given`);
  for (const id of ids) {
    if (!/^[1-9][0-9]*$/.test(id) || BigInt(id) > MAX_TASK_ID) {
      throw new RangeError(
        `${action}: a task id is a positive integer, got "${id}"`,
      );
    }
  }
  return [...new Set(ids)];
}
