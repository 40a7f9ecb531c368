import { instanceToPlain } from "class-transformer";
import { validateSync, type ValidationError } from "./validators";
import type { IContract } from "./IContract";
import type { ITaskfy } from "./ITaskfy";
import { plainToContract } from "./plainToContract";
import {
  ContractInvalidError,
  ContractMismatchError,
  ContractNotRegisteredError,
  ContractParseError,
  TaskNotRegisteredError,
} from "./registryErrors";

/** ContractClass is a contract's constructor, callable without arguments. */
export type ContractClass<C extends IContract = IContract> = new () => C;

/** TaskClass is a task's constructor, callable without arguments. */
export type TaskClass<C extends IContract = IContract> = new () => ITaskfy<C>;

/** ResolvedTask is a task instance with the contract it was parsed from. */
export interface ResolvedTask {
  readonly task: ITaskfy;
  readonly contract: IContract;
}

/** SerializedContract is a contract as it is stored in the task table. */
export interface SerializedContract {
  readonly contractName: string;
  readonly contractJson: string;
}

interface TaskEntry {
  readonly taskClass: TaskClass;
  readonly contractName: string;
}

/**
 * TaskRegistry maps the names stored in the task table to classes, the role
 * that .NET's Activator played in the original. Only registered names are
 * ever instantiated: a name read from the database never reaches `require`.
 */
export class TaskRegistry {
  private readonly tasks = new Map<string, TaskEntry>();
  private readonly contracts = new Map<string, ContractClass>();
  private readonly contractNames = new Map<ContractClass, string>();
  private readonly exposedKeys = new Map<ContractClass, ReadonlySet<string>>();

  /**
   * registerContract makes a contract class known under `name`.
   *
   * @throws {TypeError} when the name is taken by another class.
   */
  registerContract(name: string, contractClass: ContractClass): void {
    const existing = this.contracts.get(name);
    if (existing !== undefined && existing !== contractClass) {
      throw new TypeError(`Cannot register contract: name "${name}" is taken`);
    }
    this.contracts.set(name, contractClass);
    this.contractNames.set(contractClass, name);
  }

  /**
   * registerTask makes a task class known under `name`, taking contracts of
   * `contractClass`, which must be registered already.
   *
   * @throws {TypeError} when the name is taken or the contract is unknown.
   */
  registerTask(
    name: string,
    taskClass: TaskClass,
    contractClass: ContractClass,
  ): void {
    const contractName = this.contractNames.get(contractClass);
    if (contractName === undefined) {
      throw new TypeError(
        `Cannot register task ${name}: its contract class ${contractClass.name} is not registered`,
      );
    }
    const existing = this.tasks.get(name);
    if (existing !== undefined && existing.taskClass !== taskClass) {
      throw new TypeError(`Cannot register task: name "${name}" is taken`);
    }
    this.tasks.set(name, { taskClass, contractName });
  }

  /** The registered task names, sorted. */
  taskNames(): string[] {
    return [...this.tasks.keys()].sort();
  }

  /** contractNameOf gives the name under which a task takes its contract. */
  contractNameOf(className: string): string {
    return this.entryFor(className).contractName;
  }

  /**
   * resolve creates the task registered as `className` and parses its
   * contract from JSON.
   *
   * @throws {TaskNotRegisteredError} for an unknown task name.
   * @throws {ContractMismatchError} when the task takes another contract.
   * @throws the errors of parseContract.
   */
  resolve(className: string, contractName: string, json: string): ResolvedTask {
    const entry = this.entryFor(className);
    if (entry.contractName !== contractName) {
      throw new ContractMismatchError(
        className,
        contractName,
        entry.contractName,
      );
    }
    const contract = this.parseContract(contractName, json);
    return { task: new entry.taskClass(), contract };
  }

  /**
   * parseContract turns stored JSON into a validated contract instance.
   * Properties the class does not declare are refused, as are wrong types:
   * no implicit conversion turns "12" into 12.
   *
   * @throws {ContractNotRegisteredError} for an unknown contract name.
   * @throws {ContractParseError} when the JSON is not an object.
   * @throws {ContractInvalidError} when class-validator rejects it.
   */
  parseContract(contractName: string, json: string): IContract {
    const contractClass = this.contracts.get(contractName);
    if (contractClass === undefined) {
      throw new ContractNotRegisteredError(contractName);
    }

    let plain: unknown;
    try {
      plain = JSON.parse(json);
    } catch (error) {
      throw new ContractParseError(
        contractName,
        "contract JSON does not parse",
        {
          cause: error,
        },
      );
    }
    if (typeof plain !== "object" || plain === null || Array.isArray(plain)) {
      throw new ContractParseError(
        contractName,
        "contract JSON is not an object",
      );
    }

    const contract = plainToContract(contractClass, plain);
    if (!this.onlyExposedKeys(contractClass, plain)) {
      refuseUndeclaredKeys(contractName, plain, contract);
    }
    this.validate(contractName, contract);
    return contract;
  }

  /**
   * serialize validates a contract and gives the name and JSON to store.
   *
   * @throws {ContractNotRegisteredError} when its class is not registered.
   * @throws {ContractInvalidError} when class-validator rejects it.
   */
  serialize(contract: IContract): SerializedContract {
    const contractClass = contract.constructor as ContractClass;
    const contractName = this.contractNames.get(contractClass);
    if (contractName === undefined) {
      throw new ContractNotRegisteredError(contractClass.name);
    }
    this.validate(contractName, contract);
    return {
      contractName,
      contractJson: JSON.stringify(instanceToPlain(contract)),
    };
  }

  /**
   * onlyExposedKeys tells cheaply whether every key of `plain` is one the
   * class always maps back to: those of an empty instance, which are
   * among those of any instance. Most contracts pass, and skip the full
   * check, which converts each contract back to plain.
   */
  private onlyExposedKeys(contractClass: ContractClass, plain: object) {
    let exposed = this.exposedKeys.get(contractClass);
    if (exposed === undefined) {
      exposed = new Set(Object.keys(instanceToPlain(new contractClass())));
      this.exposedKeys.set(contractClass, exposed);
    }
    for (const key in plain) {
      if (!exposed.has(key)) return false;
    }
    return true;
  }

  private entryFor(className: string): TaskEntry {
    const entry = this.tasks.get(className);
    if (entry === undefined) throw new TaskNotRegisteredError(className);
    return entry;
  }

  private validate(contractName: string, contract: IContract): void {
    const errors = validateSync(contract, {
      whitelist: true,
      forbidNonWhitelisted: true,
      forbidUnknownValues: true,
    });
    if (errors.length > 0) {
      throw new ContractInvalidError(
        contractName,
        errors.flatMap(describeProblem),
      );
    }
  }
}

/**
 * refuseUndeclaredKeys rejects JSON keys that the class does not map back
 * to. Validation sees only the instance, where an undeclared "vendorId"
 * beside the declared "VendorId" would silently win.
 */
function refuseUndeclaredKeys(
  contractName: string,
  plain: object,
  contract: IContract,
): void {
  const declared = new Set(Object.keys(instanceToPlain(contract)));
  const undeclared = Object.keys(plain).filter((key) => !declared.has(key));
  if (undeclared.length > 0) {
    throw new ContractInvalidError(
      contractName,
      undeclared.map((key) => `property ${key} should not exist`),
    );
  }
}

function describeProblem(error: ValidationError): string[] {
  const own = Object.values(error.constraints ?? {});
  const nested = (error.children ?? []).flatMap(describeProblem);
  return [...own, ...nested];
}

/**
 * taskRegistry is the registry that the decorators fill; the runner and the
 * client resolve names through it.
 */
export const taskRegistry = new TaskRegistry();

/**
 * BatchContract registers a contract class under `name`, the name stored in
 * the task table's `contractname`. Naming it explicitly keeps queued rows
 * valid when the class is renamed.
 */
export function BatchContract(name: string) {
  return (contractClass: ContractClass): void => {
    taskRegistry.registerContract(name, contractClass);
  };
}

/**
 * BatchTask registers a task class under `name`, the name stored in the task
 * table's `classname`, taking contracts of the given class.
 */
export function BatchTask<C extends IContract>(options: {
  readonly name: string;
  readonly contract: ContractClass<C>;
}) {
  return (taskClass: TaskClass<C>): void => {
    taskRegistry.registerTask(
      options.name,
      taskClass as unknown as TaskClass,
      options.contract,
    );
  };
}
