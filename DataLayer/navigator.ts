/**
 * Defines `globalThis.navigator` on Node 20 as Node 21 and later define it.
 *
 * pg asks, once when it loads, whether it runs in a Cloudflare Worker. With
 * no `navigator` it builds a fetch `Response` to find out, and that loads
 * Node's whole fetch stack: about 50 ms of CPU at every process start, for a
 * module the runner never uses. Import this before anything that loads pg.
 */
const scope = globalThis as { navigator?: { userAgent?: string } };

if (scope.navigator === undefined) {
  const major = process.versions.node.split(".")[0];
  Object.defineProperty(globalThis, "navigator", {
    value: Object.freeze({ userAgent: `Node.js/${major}` }),
    configurable: true,
    writable: true,
    enumerable: false,
  });
}

export {};
