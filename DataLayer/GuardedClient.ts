import "./navigator";
import { Client, ClientConfig } from "pg";

/**
 * GuardedClient is pg's Client with an error listener from the moment it
 * exists, for the pools of every DataSource.
 *
 * pg reports a connection the server ends as an 'error' event, and an
 * 'error' event nobody listens to kills the process. The pool removes its
 * own listener as it hands a client out, and TypeORM adds its listener a
 * tick later. A server that shuts down just as a connection finishes
 * starting sends ReadyForQuery and its FATAL error in one packet, so the
 * error lands in that gap. The error still fails the client's queries,
 * and the pool and TypeORM still drop the client; this listener only keeps
 * the error from being fatal.
 */
export class GuardedClient extends Client {
  constructor(config?: string | ClientConfig) {
    super(config);
    this.on("error", () => undefined);
  }
}
