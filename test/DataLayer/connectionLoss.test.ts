import { expect } from "chai";
import * as net from "node:net";
import type { DataSource } from "typeorm";
import { connect } from "../../DataLayer/connect";
import { createTestDatabase, TestDatabase } from "../support/testServer";
import { rejectionOf } from "../support/thrownBy";

/**
 * What a backend sends when the server shuts down: a FATAL ErrorResponse
 * with SQLSTATE 57P01, then it closes the socket.
 */
function adminShutdownMessage(): Buffer {
  const fields = Buffer.concat([
    field("S", "FATAL"),
    field("V", "FATAL"),
    field("C", "57P01"),
    field("M", "terminating connection due to administrator command"),
    Buffer.from([0]),
  ]);
  const header = Buffer.alloc(5);
  header.write("E", 0, "latin1");
  header.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([header, fields]);
}

function field(code: string, value: string): Buffer {
  return Buffer.from(`${code}${value}\0`, "utf8");
}

/**
 * ShutdownProxy forwards connections to the database. When armed, the next
 * connection it accepts is cut as a shutting-down server cuts a backend that
 * has just finished starting: its ReadyForQuery and the FATAL error arrive
 * in one write, so the driver reads both in one go.
 */
class ShutdownProxy {
  private armed = false;
  cut = 0;
  private readonly sockets = new Set<net.Socket>();
  private readonly server = net.createServer((socket) => this.accept(socket));

  constructor(
    private readonly upstreamHost: string,
    private readonly upstreamPort: number,
  ) {}

  async listen(): Promise<number> {
    await new Promise<void>((resolve) =>
      this.server.listen(0, "127.0.0.1", resolve),
    );
    return (this.server.address() as net.AddressInfo).port;
  }

  arm(): void {
    this.armed = true;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private accept(client: net.Socket): void {
    const cutThisOne = this.armed;
    this.armed = false;
    const upstream = net.connect(this.upstreamPort, this.upstreamHost);
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on("error", () => undefined);
      socket.on("close", () => {
        this.sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    if (!cutThisOne) {
      upstream.pipe(client);
      return;
    }
    let pending = Buffer.alloc(0);
    upstream.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      let offset = 0;
      while (pending.length - offset >= 5) {
        const type = String.fromCharCode(pending[offset]);
        const end = offset + 1 + pending.readInt32BE(offset + 1);
        if (end > pending.length) break;
        offset = end;
        if (type === "Z") {
          this.cut += 1;
          client.end(
            Buffer.concat([pending.subarray(0, end), adminShutdownMessage()]),
          );
          upstream.destroy();
          return;
        }
      }
      // Authentication goes back and forth: pass on what is whole.
      client.write(pending.subarray(0, offset));
      pending = pending.subarray(offset);
    });
  }
}

describe("a connection the server ends as the pool hands it out", function () {
  let database: TestDatabase;
  let proxy: ShutdownProxy;
  let dataSource: DataSource;

  before(async function () {
    database = await createTestDatabase();
    proxy = new ShutdownProxy(database.settings.host, database.settings.port);
    const port = await proxy.listen();
    dataSource = await connect(
      { ...database.settings, url: undefined, host: "127.0.0.1", port },
      { applicationName: "batch-test-shutdown", poolSize: 2 },
    );
  });

  after(async function () {
    await dataSource?.destroy();
    await proxy?.close();
    await database?.drop();
  });

  it("fails that connection's query and leaves the process and pool working", async function () {
    // Hold the pool's idle connection, so that the next one is new.
    const holder = dataSource.createQueryRunner();
    await holder.connect();
    proxy.arm();
    const victim = dataSource.createQueryRunner();
    try {
      // Without a listener on the client from birth, the error read right
      // after ReadyForQuery is an unhandled 'error' event: the test run
      // dies here.
      await victim.connect();
      expect(proxy.cut).to.equal(1);
      const failure = await rejectionOf(() => victim.query("SELECT 1"));
      expect(failure, "query on the ended connection").to.be.instanceOf(Error);
    } finally {
      await victim.release();
      await holder.release();
    }
    const [row] = await dataSource.query("SELECT 1 AS one");
    expect(row.one).to.equal(1);
  });
});
