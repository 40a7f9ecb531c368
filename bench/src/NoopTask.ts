/**
 * The bench's no-op task. Runners load it with
 * `--tasks bench/dist/NoopTask.js`; the harness loads it to serialize
 * contracts. Both reach the registry through the checkout's compiled
 * dist/, the module instance the runner itself uses, so the decorators
 * register into the registry that resolves the rows.
 */
import { Expose } from "class-transformer";
import type { IsInt as IsIntType, Min as MinType } from "class-validator";

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
/* eslint-disable @typescript-eslint/no-require-imports */
const { BatchContract, BatchTask } =
  require("../../dist/Contracts/TaskRegistry") as RegistryDecorators;
// The validators as the product's own contracts import them, so that the
// start-up measured is the runner's and not class-validator's whole index.
const { IsInt, Min } = require("../../dist/Contracts/validators") as {
  IsInt: typeof IsIntType;
  Min: typeof MinType;
};
/* eslint-enable @typescript-eslint/no-require-imports */

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
