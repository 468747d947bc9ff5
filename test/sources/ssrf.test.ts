/**
 * Server-side request forgery: every refusal of the guarded fetch, against real HTTP servers on
 * 127.0.0.1. DNS answers come from an injected resolver so a test can point a name anywhere and
 * change the answer between two lookups (rebinding).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SslmemError } from "../../src/core/errors.ts";
import { createGuardedFetch, type ResolvedAddress } from "../../src/sources/guarded-fetch.ts";
import { AddressPolicy, parseHostPattern } from "../../src/sources/host-policy.ts";
import { localServer, type LocalServer } from "../helpers/sources.ts";

function refusedWith(code: string, pattern?: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof SslmemError, `expected an SslmemError, got ${String(e)}`);
    assert.equal(e.code, code);
    if (pattern) assert.match(e.message, pattern);
    return true;
  };
}

describe("guarded fetch", () => {
  let origin: LocalServer;
  let other: LocalServer;
  const seenHeaders: Record<string, string | undefined>[] = [];
  before(async () => {
    other = await localServer((req, res) => {
      seenHeaders.push({ authorization: req.headers.authorization, "x-registry-key": req.headers["x-registry-key"] as string | undefined });
      res.end("other");
    });
    origin = await localServer((req, res) => {
      seenHeaders.push({ authorization: req.headers.authorization, "x-registry-key": req.headers["x-registry-key"] as string | undefined });
      const target = new URL(req.url!, "http://x").searchParams.get("to");
      if (target) {
        res.writeHead(302, { location: target });
        res.end();
        return;
      }
      res.end("origin");
    });
  });
  after(async () => {
    await origin.close();
    await other.close();
  });

  const policy = (allow: string[] | null, exempt: string[] = []) => ({ allow: allow?.map(parseHostPattern) ?? null, addresses: new AddressPolicy(exempt) });
  const fixed =
    (answers: ResolvedAddress[][]) =>
    async (): Promise<ResolvedAddress[]> => {
      const next = answers.length > 1 ? answers.shift()! : answers[0];
      return next;
    };

  it("fetches from an allowed host, connecting to the address its resolver checked", async () => {
    // models.example.test does not exist in DNS: the response proves the connection used the checked answer.
    const lookups: string[] = [];
    const f = createGuardedFetch({
      policy: policy([`models.example.test:${origin.port}`]),
      timeoutMs: 5000,
      resolve: async (h) => {
        lookups.push(h);
        return [{ address: "127.0.0.1", family: 4 }];
      },
    });
    const res = await f(`http://models.example.test:${origin.port}/file`);
    assert.equal(await res.text(), "origin");
    assert.deepEqual(lookups, ["models.example.test"]);
  });

  it("refuses a host that is not on the allowlist, before any connection", async () => {
    const before = origin.requests.length;
    const f = createGuardedFetch({ policy: policy(["registry.example.com"]), timeoutMs: 5000 });
    await assert.rejects(f(`${origin.url}/file`), refusedWith("source_not_allowed", /not on this server's source allowlist/));
    assert.equal(origin.requests.length, before);
  });

  it("refuses the cloud metadata address, as a literal and behind a name, even with no allowlist", async () => {
    const f = createGuardedFetch({ policy: policy(null), timeoutMs: 2000, resolve: fixed([[{ address: "169.254.169.254", family: 4 }]]) });
    await assert.rejects(f("http://169.254.169.254/latest/meta-data/"), refusedWith("source_not_allowed", /link-local/));
    await assert.rejects(f("http://metadata.example.test/computeMetadata/v1/"), refusedWith("source_not_allowed", /refused address/));
    await assert.rejects(f("http://[::ffff:169.254.169.254]/"), refusedWith("source_not_allowed"));
    await assert.rejects(f("http://[fd00:ec2::254]/"), refusedWith("source_not_allowed", /metadata/));
    await assert.rejects(f("http://0.0.0.0/"), refusedWith("source_not_allowed", /unspecified/));
  });

  it("refuses a name when any of its addresses is refused", async () => {
    const f = createGuardedFetch({
      policy: policy(null),
      timeoutMs: 2000,
      resolve: fixed([[{ address: "127.0.0.1", family: 4 }, { address: "169.254.169.254", family: 4 }]]),
    });
    await assert.rejects(f(`http://mixed.example.test:${origin.port}/`), refusedWith("source_not_allowed"));
  });

  it("reaches an exempted range when the operator allows it explicitly", async () => {
    const f = createGuardedFetch({ policy: policy(null, ["127.0.0.0/8"]), timeoutMs: 2000 });
    assert.equal(await (await f(`${origin.url}/`)).text(), "origin");
    const exempt = new AddressPolicy(["169.254.169.254/32"]);
    assert.equal(exempt.refusal("169.254.169.254"), null);
    assert.equal(exempt.refusal("169.254.1.1"), "link-local (cloud metadata)");
  });

  it("re-checks a redirect: to a host off the allowlist", async () => {
    const f = createGuardedFetch({ policy: policy([origin.host]), timeoutMs: 5000 });
    const before = other.requests.length;
    await assert.rejects(f(`${origin.url}/?to=${encodeURIComponent(`${other.url}/secret`)}`), refusedWith("source_not_allowed", new RegExp(other.host.replace(/\./g, "\\."))));
    assert.equal(other.requests.length, before, "the refused host was never contacted");
  });

  it("re-checks a redirect: to the metadata address", async () => {
    const f = createGuardedFetch({ policy: policy(null), timeoutMs: 5000 });
    await assert.rejects(f(`${origin.url}/?to=${encodeURIComponent("http://169.254.169.254/latest/meta-data/iam/")}`), refusedWith("source_not_allowed", /link-local/));
  });

  it("re-resolves on every hop: a DNS answer that changes to a refused address is caught (rebinding)", async () => {
    // First lookup: loopback (allowed). Second lookup of the same name, for the redirect: metadata.
    const resolve = fixed([[{ address: "127.0.0.1", family: 4 }], [{ address: "169.254.169.254", family: 4 }]]);
    const f = createGuardedFetch({ policy: policy([`rebind.example.test:${origin.port}`]), timeoutMs: 5000, resolve });
    const hop = `http://rebind.example.test:${origin.port}/final`;
    await assert.rejects(f(`http://rebind.example.test:${origin.port}/?to=${encodeURIComponent(hop)}`), refusedWith("source_not_allowed", /refused address/));
    // And across two requests: the second one sees the new answer and is refused before connecting.
    const resolve2 = fixed([[{ address: "127.0.0.1", family: 4 }], [{ address: "169.254.169.254", family: 4 }]]);
    const g = createGuardedFetch({ policy: policy([`rebind.example.test:${origin.port}`]), timeoutMs: 5000, resolve: resolve2 });
    assert.equal(await (await g(`http://rebind.example.test:${origin.port}/`)).text(), "origin");
    const n = origin.requests.length;
    await assert.rejects(g(`http://rebind.example.test:${origin.port}/`), refusedWith("source_not_allowed"));
    assert.equal(origin.requests.length, n);
  });

  it("sends configured credentials only to their host, and drops the caller's token when a redirect leaves the origin", async () => {
    const f = createGuardedFetch({
      policy: policy(null),
      credentials: [{ host: parseHostPattern(origin.host), header: "X-Registry-Key", value: "origin-secret" }],
      timeoutMs: 5000,
    });
    seenHeaders.length = 0;
    const res = await f(`${origin.url}/?to=${encodeURIComponent(`${other.url}/blob`)}`, { headers: { authorization: "Bearer caller-token" } });
    assert.equal(await res.text(), "other");
    assert.deepEqual(seenHeaders, [
      { authorization: "Bearer caller-token", "x-registry-key": "origin-secret" },
      { authorization: undefined, "x-registry-key": undefined },
    ]);
  });

  it("gives up after too many redirects", async () => {
    const f = createGuardedFetch({ policy: policy(null), timeoutMs: 5000, maxRedirects: 2 });
    let url = `${origin.url}/final`;
    for (let i = 0; i < 4; i++) url = `${origin.url}/?to=${encodeURIComponent(url)}`;
    await assert.rejects(f(url), refusedWith("source_unreachable", /redirects/));
  });

  it("refuses non-http schemes", async () => {
    const f = createGuardedFetch({ policy: policy(null), timeoutMs: 5000 });
    await assert.rejects(f(`${origin.url}/?to=${encodeURIComponent("file:///etc/passwd")}`), refusedWith("source_not_allowed", /file URLs/));
  });
});
