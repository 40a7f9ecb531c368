import type { RequeueSelection } from "../../DataLayer/requeue";
import { checkTaskIds } from "../../DataLayer/taskIds";

const EXPECTED = 'expected {"ids": [1, 2]} or {"all": true}';

/**
 * parseRequeueSelection reads the body of POST /api/requeue: task ids as
 * JSON strings or integers, or `all: true`.
 *
 * @throws {RangeError} for a body of another shape or a malformed id.
 */
export function parseRequeueSelection(body: unknown): RequeueSelection {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new RangeError(`Cannot requeue tasks: ${EXPECTED}`);
  }
  const { ids, all, ...rest } = body as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0) {
    throw new RangeError(
      `Cannot requeue tasks: unknown field ${extra[0]}; ${EXPECTED}`,
    );
  }

  if (all === true && ids === undefined) return { all: true };
  if (all !== undefined || !Array.isArray(ids)) {
    throw new RangeError(`Cannot requeue tasks: ${EXPECTED}`);
  }
  return { ids: checkTaskIds("Cannot requeue tasks", ids.map(idText)) };
}

/** idText writes an id as checkTaskIds reads it; a non-id fails there. */
function idText(id: unknown): string {
  if (typeof id === "string") return id;
  if (typeof id === "number" && Number.isSafeInteger(id)) return String(id);
  return JSON.stringify(id) ?? String(id);
}
