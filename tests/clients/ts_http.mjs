#!/usr/bin/env node
// TypeScript SDK (@modelcontextprotocol/sdk 1.32.x) client over Streamable HTTP.
// Usage: node ts_http.mjs URL [--header K:V ...]
// SDK location: normal resolution from this dir, else $MCP_TS_SDK_NODE_MODULES, else /tmp/peers/node_modules.
// Exit 0 = ok, 1 = wrong result, 2 = error.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

async function load(sub) {
  const spec = `@modelcontextprotocol/sdk/${sub}`;
  try { return await import(spec); } catch (e) {
    const nm = process.env.MCP_TS_SDK_NODE_MODULES || '/tmp/peers/node_modules';
    return await import(pathToFileURL(path.join(nm, '@modelcontextprotocol/sdk/dist/esm', sub)).href);
  }
}

const EXPECTED = 5;

function extractValue(res) {
  const sc = res.structuredContent;
  if (sc && typeof sc === 'object') {
    for (const k of ['result', 'value', 'sum']) if (k in sc) return [sc[k], `structuredContent.${k}`];
    const vals = Object.values(sc);
    if (vals.length === 1) return [vals[0], 'structuredContent'];
  }
  for (const b of res.content ?? []) {
    if (b.type === 'text') {
      const t = b.text.trim();
      try {
        let v = JSON.parse(t);
        if (v && typeof v === 'object' && Object.keys(v).length === 1) v = Object.values(v)[0];
        return [v, 'content[text]'];
      } catch { return [t, 'content[text]']; }
    }
  }
  return [undefined, 'none'];
}

async function main() {
  const args = process.argv.slice(2);
  const url = args[0];
  if (!url) { console.error('usage: ts_http.mjs URL [--header K:V ...]'); return 2; }
  const headers = {};
  for (let i = 1; i < args.length; i++) {
    if (args[i] === '--header' && args[i + 1]) {
      const h = args[++i]; const j = h.indexOf(':');
      headers[h.slice(0, j).trim()] = h.slice(j + 1).trim();
    }
  }
  const { Client } = await load('client/index.js');
  const { StreamableHTTPClientTransport } = await load('client/streamableHttp.js');

  const client = new Client({ name: 'ts-http', version: '1' });
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  transport.onerror = (e) => console.error('[transport onerror]', e?.message ?? e); // non-fatal (e.g. GET SSE failures)
  await client.connect(transport);
  console.log(`negotiated protocolVersion=${transport.protocolVersion} server=${JSON.stringify(client.getServerVersion())} session=${transport.sessionId}`);
  try {
    const tools = await client.listTools();
    const names = tools.tools.map((t) => t.name);
    console.log('tools:', names);
    if (!names.includes('calculate')) { console.error('FAIL: no calculate tool'); return 1; }
    const res = await client.callTool({ name: 'calculate', arguments: { a: 2, b: 3, op: 'add' } });
    console.log('isError:', res.isError);
    console.log('content:', JSON.stringify(res.content));
    console.log('structuredContent:', JSON.stringify(res.structuredContent));
    if (res.isError) { console.error('FAIL: isError'); return 1; }
    const [v, src] = extractValue(res);
    console.log(`result=${JSON.stringify(v)} (from ${src})`);
    if (Number(v) !== EXPECTED) { console.error(`FAIL: expected ${EXPECTED}, got ${JSON.stringify(v)}`); return 1; }
    console.log('OK');
    return 0;
  } finally {
    try { await transport.terminateSession(); } catch (e) { console.error('[terminateSession]', e?.message ?? e); }
    await client.close();
  }
}

main().then((code) => process.exit(code), (e) => { console.error(`ERROR: ${e?.name}: ${e?.message ?? e}`); process.exit(2); });
