/** LogFields are the values of one log event, kept out of its message. */
export type LogFields = Readonly<Record<string, unknown>>;

/**
 * Logger is the one logging interface of the product. The message is a fixed
 * sentence; what varies goes in fields. A child carries its fields into every
 * event, e.g. `runnerId`, then `taskId` and `taskClass`.
 */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

/** A Logger that drops everything, for tests and quiet tools. */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};

/**
 * lazyChild is `parent.child(fields)`, made only when first used: a task
 * that never logs costs no child logger.
 */
export function lazyChild(parent: Logger, fields: LogFields): Logger {
  return new LazyChild(parent, fields);
}

// A class, not closures: one object per task instead of six.
class LazyChild implements Logger {
  private made: Logger | undefined;

  constructor(
    private readonly parent: Logger,
    private readonly fields: LogFields,
  ) {}

  debug(message: string, fields?: LogFields): void {
    this.logger().debug(message, fields);
  }

  info(message: string, fields?: LogFields): void {
    this.logger().info(message, fields);
  }

  warn(message: string, fields?: LogFields): void {
    this.logger().warn(message, fields);
  }

  error(message: string, fields?: LogFields): void {
    this.logger().error(message, fields);
  }

  child(fields: LogFields): Logger {
    return this.logger().child(fields);
  }

  private logger(): Logger {
    return (this.made ??= this.parent.child(this.fields));
  }
}
