/**
 * The tasks this runner can run. Importing a task module registers it in the
 * task registry through its decorator; a task not imported here is unknown
 * to the runner, and rows that name it fail as not registered.
 */
import "./SummedSalesBatch";

export { taskRegistry } from "../../Contracts/TaskRegistry";
