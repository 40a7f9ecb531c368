/**
 * The parts of class-validator that the product's own contracts and the
 * registry use, each loaded from the file that defines it. The package's
 * index loads every validator it has (phone numbers, ISBNs, tax ids, ...),
 * which costs a runner about a tenth of a second of CPU at every start; on a
 * machine that starts twenty runners that is two seconds of a core.
 *
 * These are the index's own functions, not copies: the package keeps its
 * metadata in one global store, so a contract decorated through this module
 * and one decorated through `import ... from "class-validator"` are validated
 * alike. A task module may import from either.
 */
import type * as ClassValidator from "class-validator";

export type { ValidationError } from "class-validator";

/* eslint-disable @typescript-eslint/no-require-imports */
export const IsInt: typeof ClassValidator.IsInt =
  require("class-validator/cjs/decorator/typechecker/IsInt").IsInt;
export const IsPositive: typeof ClassValidator.IsPositive =
  require("class-validator/cjs/decorator/number/IsPositive").IsPositive;
export const Min: typeof ClassValidator.Min =
  require("class-validator/cjs/decorator/number/Min").Min;

const { Validator } = require("class-validator/cjs/validation/Validator") as {
  Validator: typeof ClassValidator.Validator;
};
/* eslint-enable @typescript-eslint/no-require-imports */

const validator = new Validator();

/** validateSync validates a decorated object, as the index's does. */
export function validateSync(
  object: object,
  options?: ClassValidator.ValidatorOptions,
): ClassValidator.ValidationError[] {
  return validator.validateSync(object, options);
}
