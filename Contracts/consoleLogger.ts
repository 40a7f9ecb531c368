import pino from "pino";
import type { PrettyOptions } from "pino-pretty";
import { describeError } from "./errors";
import type { LogFields, Logger } from "./Logger";

/** LogLevel orders events; a logger drops those below its level. */
export type LogLevel = "debug" | "info" | "warn" | "error";

// The names pino knows; their order is pino's own.
const LEVELS: Readonly<Record<LogLevel, number>> = {
  debug: 10,
  info: 20,
  warn: 30,
  error: 40,
};

/** ConsoleLoggerOptions choose what is written and how. */
export interface ConsoleLoggerOptions {
  /** Lowest level written; default "info". */
  readonly level?: LogLevel;
  /** "pretty" for people, "json" for machines; default: pretty on a TTY. */
  readonly format?: "pretty" | "json";
  /** Where lines go; default stderr, so that stdout stays the tasks'. */
  readonly stream?: NodeJS.WritableStream & { isTTY?: boolean };
}

/**
 * parseLogLevel reads a level name such as the LOG_LEVEL variable's.
 *
 * @throws {RangeError} for a name that is not a level.
 */
export function parseLogLevel(text: string | undefined): LogLevel {
  if (text === undefined || text === "") return "info";
  if (Object.hasOwn(LEVELS, text)) return text as LogLevel;
  throw new RangeError(
    `Cannot read LOG_LEVEL: expected one of ${Object.keys(LEVELS).join(", ")}, got "${text}"`,
  );
}

/**
 * createConsoleLogger writes one line per event through pino: JSON with
 * `time`, `level` and `msg` beside the fields, or a short coloured line on
 * a terminal. Writes are synchronous, so the last lines before a crash are
 * not lost in a buffer. An Error in a field is written as its one-line
 * description.
 */
export function createConsoleLogger(
  options: ConsoleLoggerOptions = {},
): Logger {
  const stream = options.stream ?? process.stderr;
  const format = options.format ?? (stream.isTTY ? "pretty" : "json");
  const destination =
    format === "json"
      ? stream
      : prettyStream({
          destination: stream,
          sync: true,
          colorize: Boolean(stream.isTTY),
          singleLine: true,
          translateTime: "HH:MM:ss.l",
          ignore: "pid,hostname",
        });
  const root = pino(
    {
      level: options.level ?? "info",
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  return adapt(root);
}

/** pino-pretty is loaded only for a terminal: runners in production skip it. */
function prettyStream(options: PrettyOptions): NodeJS.WritableStream {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pretty = require("pino-pretty") as typeof import("pino-pretty");
  return pretty(options);
}

function adapt(logger: pino.Logger): Logger {
  const emit =
    (level: LogLevel) =>
    (message: string, fields?: LogFields): void => {
      // Before plainFields: a disabled level should cost nothing.
      if (!logger.isLevelEnabled(level)) return;
      if (fields === undefined) logger[level](message);
      else logger[level](plainFields(fields), message);
    };
  return {
    debug: emit("debug"),
    info: emit("info"),
    warn: emit("warn"),
    error: emit("error"),
    child: (fields) => adapt(logger.child(plainFields(fields))),
  };
}

function plainFields(fields: LogFields): Record<string, unknown> {
  const plain: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    plain[key] = value instanceof Error ? describeError(value) : value;
  }
  return plain;
}
