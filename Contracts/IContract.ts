/**
 * IContract marks a class whose instances are a task's input. A contract is
 * stored as JSON next to its task and turned back into an instance of its
 * class, then validated with class-validator, before the task sees it.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface IContract {}
