/** What every kind of workload record on the node shares. */

/** Workload and VM uids, as the controller makes them (directory names on the node). */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * How the agent writes its runtime records: atomically but without fsync. They must survive a
 * crash of the agent, which the rename guarantees; a crash of the machine ends the modules too.
 */
export const RUNTIME_WRITE = { fsync: false } as const;
