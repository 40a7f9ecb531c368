import "reflect-metadata";
import { startTestServer, stopTestServer } from "./testServer";

/** Mocha root hooks: one PostgreSQL server for the whole run. */
export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(60_000);
    await startTestServer();
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(30_000);
    await stopTestServer();
  },
};
