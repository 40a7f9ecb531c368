import { NonRetryableError } from "./taskErrors";

// Each of these describes input that no retry can fix, so each is a
// NonRetryableError: the task fails at once.

/** TaskNotRegisteredError: no task class is registered under this name. */
export class TaskNotRegisteredError extends NonRetryableError {
  constructor(readonly className: string) {
    super(`Cannot run task: class name "${className}" is not registered`);
  }
}

/** ContractNotRegisteredError: no contract class has this name. */
export class ContractNotRegisteredError extends NonRetryableError {
  constructor(readonly contractName: string) {
    super(
      `Cannot read contract: contract name "${contractName}" is not registered`,
    );
  }
}

/** ContractMismatchError: the task takes another contract than the row's. */
export class ContractMismatchError extends NonRetryableError {
  constructor(
    readonly className: string,
    readonly contractName: string,
    readonly expectedContractName: string,
  ) {
    super(
      `Cannot run task: ${className} takes contract ${expectedContractName}, got ${contractName}`,
    );
  }
}

/** ContractParseError: the contract JSON is not a JSON object. */
export class ContractParseError extends NonRetryableError {
  constructor(
    readonly contractName: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`Cannot read contract ${contractName}: ${reason}`, options);
  }
}

/** ContractInvalidError: class-validator rejected the contract. */
export class ContractInvalidError extends NonRetryableError {
  constructor(
    readonly contractName: string,
    readonly problems: readonly string[],
  ) {
    super(`Contract ${contractName} is invalid: ${problems.join("; ")}`);
  }
}
