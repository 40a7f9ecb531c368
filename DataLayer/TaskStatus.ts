/**
 * TaskStatus is the `status` column of `blog.batchjob`, stored as the
 * original's integers so that existing rows and queries keep their meaning.
 */
export enum TaskStatus {
  Pending = 0,
  Done = 1,
  /** Ended without success; `lasterror` says why. */
  Failed = 2,
}
