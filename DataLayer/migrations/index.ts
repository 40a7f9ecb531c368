/**
 * Every migration, oldest first. They are listed rather than found by a
 * file pattern, so that the compiled file of a migration removed from the
 * source, which a build leaves behind in dist/, is never run. A test checks
 * that each file of this folder is listed.
 */
import { CreateBatchJob1796327930890 } from "./1796327930890-CreateBatchJob";
import { CreateSummedSalesResult1796327930891 } from "./1796327930891-CreateSummedSalesResult";
import { AddTaskRetries1796329426907 } from "./1796329426907-AddTaskRetries";
import { CreateRunnerHeartbeat1796329923753 } from "./1796329923753-CreateRunnerHeartbeat";
import { AddPendingIndex1796330891673 } from "./1796330891673-AddPendingIndex";
import { AddEnqueuedAt1796331109764 } from "./1796331109764-AddEnqueuedAt";
import { StatusIndexWithoutPending1796352000000 } from "./1796352000000-StatusIndexWithoutPending";
import { AddRequireHeldRows1796360000000 } from "./1796360000000-AddRequireHeldRows";
import { AddWaitingIndex1796378110905 } from "./1796378110905-AddWaitingIndex";
import { PendingIndexWithoutWaiting1796382325385 } from "./1796382325385-PendingIndexWithoutWaiting";

export const MIGRATIONS = [
  CreateBatchJob1796327930890,
  CreateSummedSalesResult1796327930891,
  AddTaskRetries1796329426907,
  CreateRunnerHeartbeat1796329923753,
  AddPendingIndex1796330891673,
  AddEnqueuedAt1796331109764,
  StatusIndexWithoutPending1796352000000,
  AddRequireHeldRows1796360000000,
  AddWaitingIndex1796378110905,
  PendingIndexWithoutWaiting1796382325385,
];
