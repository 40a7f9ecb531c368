import * as fs from "node:fs";
import * as path from "node:path";

/**
 * findCheckoutRoot walks up from `start` to the folder that holds
 * package.json: the checkout, whether running from sources or from dist/.
 *
 * @throws {Error} when no folder above holds one.
 */
export function findCheckoutRoot(start: string): string {
  for (let folder = start; ; folder = path.dirname(folder)) {
    if (fs.existsSync(path.join(folder, "package.json"))) return folder;
    if (path.dirname(folder) === folder) {
      throw new Error(`Cannot find the checkout above ${start}`);
    }
  }
}
