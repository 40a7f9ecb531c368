import { plainToInstance, TransformationType } from "class-transformer";
import type { MetadataStorage } from "class-transformer/types/MetadataStorage";

// The store that class-transformer's decorators fill; the package's index
// does not export it. Its 0.5 line is the last, so the path holds still.
/* eslint-disable @typescript-eslint/no-require-imports */
const { defaultMetadataStorage: storage } =
  require("class-transformer/cjs/storage") as {
    defaultMetadataStorage: MetadataStorage;
  };
/* eslint-enable @typescript-eslint/no-require-imports */

type Constructor<C> = new () => C;

/**
 * A contract class whose class-transformer decorators only name the JSON
 * key of each property: each key of that JSON and the property it fills.
 */
type Renames = ReadonlyMap<string, string>;

const renamesByClass = new WeakMap<Function, Renames | null>();

/**
 * plainToContract turns parsed JSON into an instance of `contractClass`,
 * as class-transformer's plainToInstance does with its default options.
 *
 * Most contracts are a few fields, each decorated `@Expose({ name })`.
 * For those, when every key of `plain` is such a name and every value is
 * a string, number, boolean or null, it copies the values itself: what
 * plainToInstance then does comes to the same, after looking up the
 * class's metadata key by key, which at thousands of contracts a second
 * was a tenth of a fresh runner's CPU. Anything else goes to
 * plainToInstance.
 */
export function plainToContract<C extends object>(
  contractClass: Constructor<C>,
  plain: object,
): C {
  const renames = renamesOf(contractClass);
  if (renames === null || !fits(renames, plain)) {
    return plainToInstance(contractClass, plain);
  }
  const contract = new contractClass() as Record<string, unknown>;
  const values = plain as Record<string, unknown>;
  // plainToInstance also sets a property whose key is missing, to
  // undefined, over any default the class gives it.
  for (const [key, property] of renames) contract[property] = values[key];
  return contract as C;
}

function fits(renames: Renames, plain: object): boolean {
  for (const key in plain) {
    if (!renames.has(key)) return false;
    const value = (plain as Record<string, unknown>)[key];
    if (typeof value === "object" && value !== null) return false;
  }
  return true;
}

/** renamesOf reads, once per class, whether its decorators only rename. */
function renamesOf(contractClass: Constructor<object>): Renames | null {
  let renames = renamesByClass.get(contractClass);
  if (renames === undefined) {
    renames = readRenames(contractClass);
    renamesByClass.set(contractClass, renames);
  }
  return renames;
}

/**
 * readRenames gives the key of each exposed property, or null when the
 * class, or its ancestors, ask class-transformer for more than renaming:
 * a class-wide strategy, types, transforms, exclusions, groups, versions,
 * one-way exposure, or properties that an assignment would not simply set.
 */
function readRenames(contractClass: Constructor<object>): Renames | null {
  if (storage.getStrategy(contractClass) !== "none") return null;
  const probe = new contractClass() as Record<string, unknown>;
  const renames = new Map<string, string>();

  for (const expose of storage.getExposedMetadatas(contractClass)) {
    const { propertyName, options = {} } = expose;
    if (propertyName === undefined) return null;
    const key = options.name ?? propertyName;
    const taken =
      renames.has(key) || [...renames.values()].includes(propertyName);
    if (
      taken ||
      !onlyRenames(contractClass, probe, propertyName, key, options)
    ) {
      return null;
    }
    renames.set(key, propertyName);
  }
  return renames.size > 0 ? renames : null;
}

/**
 * onlyRenames tells whether plainToInstance fills `propertyName` by plain
 * assignment of the JSON value under `key`, the name its options give.
 */
function onlyRenames(
  contractClass: Constructor<object>,
  probe: Record<string, unknown>,
  propertyName: string,
  key: string,
  options: object,
): boolean {
  return (
    Object.keys(options).every((option) => option === "name") &&
    key !== "__proto__" &&
    key !== "constructor" &&
    storage.findTypeMetadata(contractClass, propertyName) === undefined &&
    storage.findExcludeMetadata(contractClass, propertyName) === undefined &&
    storage.findTransformMetadatas(
      contractClass,
      propertyName,
      TransformationType.PLAIN_TO_CLASS,
    ).length === 0 &&
    // plainToInstance skips a property the class defines an accessor or
    // method for, and one that holds a function.
    Object.getOwnPropertyDescriptor(contractClass.prototype, propertyName) ===
      undefined &&
    !(probe[propertyName] instanceof Function)
  );
}
