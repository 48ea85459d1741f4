#!/usr/bin/env node
// TypeScript SDK (@modelcontextprotocol/sdk 1.32.x) client over Streamable HTTP.
// Usage: node ts_http.mjs URL [--expect-protocol VERSION] [--header K:V ...] [--authz admin|limited]
// The SDK is loaded from $MCP_TS_SDK_NODE_MODULES (a node_modules directory; `cargo xtask integration` sets it to
// target/peers/npm/node_modules), else by normal module resolution.
// Lists the tools, calls calculate {"a":2,"b":3,"op":"add"} and checks the result is 5.
// --authz admin: restart_server is listed and callable. --authz limited: calculate is the only tool listed and
// restart_server is answered exactly like a tool that does not exist.
// Exit 0 = ok, 1 = wrong answer (FAIL: line on stderr), 2 = error (ERROR: line on stderr).
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const EXPECTED = 5;
const CALL = { name: 'calculate', arguments: { a: 2, b: 3, op: 'add' } };

class CheckFailed extends Error {}

async function load(sub) {
  const nm = process.env.MCP_TS_SDK_NODE_MODULES;
  if (nm) return import(pathToFileURL(path.join(nm, '@modelcontextprotocol/sdk/dist/esm', sub)).href);
  return import(`@modelcontextprotocol/sdk/${sub}`);
}

function parseArgs(argv) {
  const opts = { url: undefined, expectProtocol: undefined, headers: {}, authz: undefined };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--expect-protocol') opts.expectProtocol = argv[++i];
    else if (argv[i] === '--authz') opts.authz = argv[++i];
    else if (argv[i] === '--header') {
      const h = argv[++i] ?? '';
      const j = h.indexOf(':');
      opts.headers[h.slice(0, j).trim()] = h.slice(j + 1).trim();
    } else opts.url = argv[i];
  }
  if (!opts.url) throw new Error('usage: ts_http.mjs URL [--expect-protocol VERSION] [--header K:V ...]');
  return opts;
}

function valueOf(res) {
  const sc = res.structuredContent;
  if (sc && typeof sc === 'object') {
    for (const k of ['result', 'value', 'sum']) if (k in sc) return [sc[k], `structuredContent.${k}`];
    const vals = Object.values(sc);
    if (vals.length === 1) return [vals[0], 'structuredContent'];
  }
  for (const b of res.content ?? []) {
    if (b.type !== 'text') continue;
    const t = b.text.trim();
    try {
      let v = JSON.parse(t);
      if (v && typeof v === 'object' && Object.keys(v).length === 1) v = Object.values(v)[0];
      return [v, 'content[text]'];
    } catch {
      return [t, 'content[text]'];
    }
  }
  return [undefined, 'none'];
}

async function exercise(client, transport, expectProtocol) {
  const version = transport.protocolVersion;
  console.log(`negotiated protocol version: ${version} server=${JSON.stringify(client.getServerVersion())}`);
  if (expectProtocol && version !== expectProtocol) {
    throw new CheckFailed(`negotiated protocol version ${version}, expected ${expectProtocol}`);
  }
  const names = (await client.listTools()).tools.map((t) => t.name);
  console.log('tools:', names);
  if (!names.includes(CALL.name)) throw new CheckFailed(`no ${CALL.name} tool in tools/list: ${names}`);
  const res = await client.callTool(CALL);
  console.log(`isError=${res.isError} content=${JSON.stringify(res.content)} structuredContent=${JSON.stringify(res.structuredContent)}`);
  if (res.isError) throw new CheckFailed(`${CALL.name} returned isError: ${JSON.stringify(res.content)}`);
  const [v, src] = valueOf(res);
  if (Number(v) !== EXPECTED) {
    throw new CheckFailed(`${CALL.name} ${JSON.stringify(CALL.arguments)} = ${JSON.stringify(v)} (from ${src}), expected ${EXPECTED}`);
  }
  console.log(`result=${JSON.stringify(v)} (from ${src})`);
}

async function errorOf(promise) {
  try {
    const res = await promise;
    return res.isError ? `isError: ${JSON.stringify(res.content)}` : undefined;
  } catch (e) {
    return e?.message ?? String(e);
  }
}

async function checkAuthz(client, mode) {
  const names = (await client.listTools()).tools.map((t) => t.name);
  if (mode === 'admin') {
    if (!names.includes('restart_server')) throw new CheckFailed(`admin: restart_server not listed: ${names}`);
    const err = await errorOf(client.callTool({ name: 'restart_server', arguments: {} }));
    if (err) throw new CheckFailed(`admin: restart_server refused: ${err}`);
    console.log('authz admin: restart_server listed and called');
  } else if (mode === 'limited') {
    if (names.length !== 1 || names[0] !== 'calculate') throw new CheckFailed(`limited key sees ${names}, expected [calculate]`);
    const hidden = await errorOf(client.callTool({ name: 'restart_server', arguments: {} }));
    const unknown = await errorOf(client.callTool({ name: 'no_such_tool', arguments: {} }));
    console.log(`authz limited: restart_server -> ${hidden}; no_such_tool -> ${unknown}`);
    if (!hidden || !/Unknown tool/.test(hidden)) throw new CheckFailed(`restart_server was not refused as unknown: ${hidden}`);
    if (hidden !== unknown.replace('no_such_tool', 'restart_server')) {
      throw new CheckFailed(`a forbidden tool is distinguishable from an unknown one: ${hidden} vs ${unknown}`);
    }
  } else if (mode !== undefined) throw new Error(`--authz ${mode}: want admin or limited`);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const { Client } = await load('client/index.js');
  const { StreamableHTTPClientTransport } = await load('client/streamableHttp.js');
  const client = new Client({ name: 'ts-http', version: '1' });
  const transport = new StreamableHTTPClientTransport(new URL(opts.url), { requestInit: { headers: opts.headers } });
  transport.onerror = (e) => console.error('[transport onerror]', e?.message ?? e); // non-fatal (e.g. GET SSE failures)
  await client.connect(transport);
  try {
    await exercise(client, transport, opts.expectProtocol);
    await checkAuthz(client, opts.authz);
  } finally {
    try {
      await transport.terminateSession();
    } catch (e) {
      console.error('[terminateSession]', e?.message ?? e);
    }
    await client.close();
  }
}

main().then(
  () => {
    console.log('OK');
    process.exit(0);
  },
  (e) => {
    if (e instanceof CheckFailed) {
      console.error(`FAIL: ${e.message}`);
      process.exit(1);
    }
    console.error(`ERROR: ${e?.name}: ${e?.message ?? e}`);
    process.exit(2);
  },
);
