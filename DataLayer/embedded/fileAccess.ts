import * as fs from "node:fs";
import * as path from "node:path";

/** OsUser is the numeric identity that a child process runs as. */
export interface OsUser {
  readonly uid: number;
  readonly gid: number;
}

const EXECUTE = { owner: 0o100, group: 0o010, other: 0o001 } as const;

/**
 * canTraverse tells whether `user` may walk down to `target`: every folder
 * on the way needs its execute bit for that user. When root runs PostgreSQL
 * as another user, a checkout under a closed home folder fails this test,
 * and the server could neither start its binaries nor open its data.
 */
export function canTraverse(user: OsUser, target: string): boolean {
  let folder = path.resolve(target);
  for (;;) {
    if (fs.existsSync(folder) && !hasExecute(user, fs.statSync(folder))) {
      return false;
    }
    const parent = path.dirname(folder);
    if (parent === folder) return true;
    folder = parent;
  }
}

function hasExecute(user: OsUser, stat: fs.Stats): boolean {
  if (!stat.isDirectory()) return true;
  if (stat.uid === user.uid) return (stat.mode & EXECUTE.owner) !== 0;
  if (stat.gid === user.gid) return (stat.mode & EXECUTE.group) !== 0;
  return (stat.mode & EXECUTE.other) !== 0;
}
