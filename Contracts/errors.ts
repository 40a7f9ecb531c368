/**
 * BatchError is the base of every error that a caller of this product is
 * expected to handle. It sets `name` to the concrete class so that logs and
 * `instanceof` checks agree.
 */
export class BatchError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * toError turns a caught value into an Error exactly once, so that code after
 * a `catch` can rely on `message` and `stack`.
 */
export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  if (typeof value === "string") return new Error(value);
  try {
    return new Error(`Non-error value thrown: ${JSON.stringify(value)}`);
  } catch {
    return new Error(`Non-error value thrown: ${String(value)}`);
  }
}

/**
 * describeError gives a one-line reason for an error, including the errors
 * inside an AggregateError: Node reports a refused connection to "localhost"
 * as an AggregateError with an empty message, one error per address tried.
 */
export function describeError(value: unknown): string {
  const error = toError(value);
  if (error instanceof AggregateError && error.errors.length > 0) {
    const reasons = new Set(error.errors.map((inner) => describeError(inner)));
    return [...reasons].join("; ");
  }
  const code = (error as { code?: unknown }).code;
  const message = error.message || error.name;
  if (typeof code === "string" && !message.includes(code)) {
    return `${message} (${code})`;
  }
  return message;
}
