import { toError } from "../Contracts/errors";

/**
 * SqlState names the PostgreSQL error codes that this product reacts to.
 * Errors are recognised by these codes, never by their message text, which
 * changes with the server's language and version.
 */
export const SqlState = {
  SerializationFailure: "40001",
  DeadlockDetected: "40P01",
  UniqueViolation: "23505",
  UndefinedTable: "42P01",
  InsufficientPrivilege: "42501",
  InvalidCatalogName: "3D000",
  InvalidPassword: "28P01",
  InvalidAuthorization: "28000",
  QueryCanceled: "57014",
  AdminShutdown: "57P01",
  CannotConnectNow: "57P03",
  IdleInTransactionTimeout: "25P03",
  LockNotAvailable: "55P03",
  /** Ours, raised when a round's held rows are missing as it commits. */
  ClaimLost: "BJ001",
} as const;

/**
 * sqlStateOf returns the SQLSTATE of a PostgreSQL error, or undefined for an
 * error that did not come from the server. TypeORM wraps driver errors in a
 * QueryFailedError that keeps the code on `driverError`.
 */
export function sqlStateOf(value: unknown): string | undefined {
  const error = toError(value) as {
    code?: unknown;
    severity?: unknown;
    driverError?: unknown;
  };
  // Node's own errors have codes too (EPIPE); only the server's carry a
  // severity beside theirs.
  if (typeof error.code === "string" && typeof error.severity === "string") {
    return error.code;
  }
  if (error.driverError !== undefined && error.driverError !== value) {
    return sqlStateOf(error.driverError);
  }
  return undefined;
}

/**
 * isPermanentDatabaseError tells whether an error of our own statements can
 * never go away by retrying: SQLSTATE class 42 (a missing table or column,
 * a missing privilege) means the schema or the grants are wrong.
 */
export function isPermanentDatabaseError(value: unknown): boolean {
  return sqlStateOf(value)?.startsWith("42") ?? false;
}

/**
 * isSerializationFailure tells whether an error is REPEATABLE READ's refusal
 * to lock a row that changed after the transaction's snapshot (40001), or a
 * deadlock (40P01); both mean "run the transaction again".
 */
export function isSerializationFailure(value: unknown): boolean {
  const state = sqlStateOf(value);
  return (
    state === SqlState.SerializationFailure ||
    state === SqlState.DeadlockDetected
  );
}
