/**
 * The bench's no-op task. Runners load it with
 * `--tasks bench/dist/NoopTask.js`; the harness loads it to serialize
 * contracts. Both reach the registry through the checkout's compiled
 * dist/, the module instance the runner itself uses, so the decorators
 * register into the registry that resolves the rows.
 */
import { Expose } from "class-transformer";
import { IsInt, Min } from "class-validator";

interface RegistryDecorators {
  BatchContract(name: string): (contractClass: new () => object) => void;
  BatchTask(options: {
    name: string;
    contract: new () => object;
  }): (
    taskClass: new () => { execute(contract: never): Promise<void> },
  ) => void;
}

// A relative path that is the same from bench/src and bench/dist.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { BatchContract, BatchTask } =
  require("../../dist/Contracts/TaskRegistry") as RegistryDecorators;

/** NOOP_TASK is the name stored in `classname` for the no-op task. */
export const NOOP_TASK = "BenchNoopTask";

/**
 * NoopContract carries a sequence number, so each row differs, and so the
 * registry's validation has a property to check as it does for real tasks.
 */
@BatchContract("BenchNoopContract")
export class NoopContract {
  @Expose({ name: "Seq" })
  @IsInt()
  @Min(0)
  seq!: number;

  /** of builds a contract. */
  static of(seq: number): NoopContract {
    const contract = new NoopContract();
    contract.seq = seq;
    return contract;
  }
}

/**
 * NoopTask does nothing: what is measured is the runner's claim, attempt
 * count, record and commit. Its start time is the row's `startedat`, which
 * the runner writes anyway, so the task adds no query of its own.
 */
@BatchTask({ name: NOOP_TASK, contract: NoopContract })
export class NoopTask {
  async execute(_contract: NoopContract): Promise<void> {}
}
