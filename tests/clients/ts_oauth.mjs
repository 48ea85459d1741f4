#!/usr/bin/env node
// TypeScript SDK (@modelcontextprotocol/sdk 1.32.x) client doing OAuth 2.1 end to end with the SDK's own
// `ClientCredentialsProvider` (client/auth-extensions.js) as the transport's `authProvider`.
// Usage: node ts_oauth.mjs URL --issuer ISSUER --client-id ID [--scope S] [--expect-protocol VERSION]
// The client secret is read from $MCP_OAUTH_CLIENT_SECRET; the SDK from $MCP_TS_SDK_NODE_MODULES (see ts_http.mjs).
// The first request gets 401; the SDK reads `resource_metadata` from `WWW-Authenticate`, fetches the RFC 9728
// document and the authorization server metadata, posts a client_credentials grant with the RFC 8707 `resource`
// and retries with the token. This script watches the traffic (a logging `fetch`) and checks that this is what
// happened, then lists the tools and calls calculate {"a":2,"b":3,"op":"add"} (expects 5).
// Unlike the Python SDK, this provider does not take the scope from the challenge or the metadata: its token request
// carries only the configured `scope`, so --scope must name the server's required scopes.
// Exit 0 = ok, 1 = wrong answer or flow (FAIL: line on stderr), 2 = error (ERROR: line on stderr).
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
  const opts = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--issuer') opts.issuer = argv[++i];
    else if (argv[i] === '--client-id') opts.clientId = argv[++i];
    else if (argv[i] === '--scope') opts.scope = argv[++i];
    else if (argv[i] === '--expect-protocol') opts.expectProtocol = argv[++i];
    else opts.url = argv[i];
  }
  opts.secret = process.env.MCP_OAUTH_CLIENT_SECRET;
  if (!opts.url || !opts.issuer || !opts.clientId || !opts.secret) {
    throw new Error('usage: MCP_OAUTH_CLIENT_SECRET=… ts_oauth.mjs URL --issuer ISSUER --client-id ID [--scope S] [--expect-protocol V]');
  }
  return opts;
}

/** A `fetch` that records every request (auth-flow requests included) and its answer. */
function recordingFetch(trail) {
  return async (input, init = {}) => {
    const url = String(input instanceof Request ? input.url : input);
    const method = init.method ?? (input instanceof Request ? input.method : 'GET');
    const body = typeof init.body === 'string' ? init.body : init.body instanceof URLSearchParams ? init.body.toString() : '';
    const response = await fetch(input, init);
    const challenge = response.headers.get('www-authenticate') ?? '';
    trail.push({ method, url, body, status: response.status, challenge });
    console.log(`${method} ${url} -> ${response.status}${challenge ? ` [${challenge}]` : ''}`);
    return response;
  };
}

function challengeParam(challenge, name) {
  const m = challenge.match(new RegExp(`${name}="([^"]*)"`));
  return m ? m[1] : undefined;
}

function checkFlow(trail, url, issuer, tokens) {
  const first = trail.find((t) => t.url === url);
  if (!first || first.status !== 401) throw new CheckFailed(`the first MCP request was not answered 401: ${JSON.stringify(first)}`);
  const metadataUrl = challengeParam(first.challenge, 'resource_metadata');
  if (!metadataUrl) throw new CheckFailed(`no resource_metadata in the 401 challenge ${first.challenge}`);
  if (!trail.some((t) => t.method === 'GET' && t.url === metadataUrl && t.status === 200)) {
    throw new CheckFailed(`the SDK did not fetch the protected resource metadata ${metadataUrl} from the challenge`);
  }
  const asMeta = trail.filter((t) => t.method === 'GET' && t.url.startsWith(`${issuer.replace(/\/$/, '')}/.well-known/`));
  if (!asMeta.some((t) => t.status === 200)) throw new CheckFailed(`the SDK did not fetch the metadata of ${issuer}`);
  const post = trail.filter((t) => t.method === 'POST' && t.url.startsWith(issuer)).pop();
  if (!post) throw new CheckFailed(`no token request to ${issuer}`);
  const form = new URLSearchParams(post.body);
  if (form.get('grant_type') !== 'client_credentials' || form.get('resource') !== url) {
    throw new CheckFailed(`token request form ${post.body}, expected grant_type=client_credentials and resource=${url}`);
  }
  if (!tokens?.access_token) throw new CheckFailed('the SDK stored no access token');
  console.log(`flow: 401 -> ${metadataUrl} -> ${asMeta.at(-1).url} -> token (resource=${url}) -> retried with the token`);
}

function valueOf(res) {
  const sc = res.structuredContent;
  if (sc && typeof sc === 'object' && 'result' in sc) return sc.result;
  const text = (res.content ?? []).find((b) => b.type === 'text');
  return text ? Number(text.text.trim()) : undefined;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const { Client } = await load('client/index.js');
  const { StreamableHTTPClientTransport } = await load('client/streamableHttp.js');
  const { ClientCredentialsProvider } = await load('client/auth-extensions.js');
  const authProvider = new ClientCredentialsProvider({
    clientId: opts.clientId,
    clientSecret: opts.secret,
    expectedIssuer: opts.issuer,
    scope: opts.scope,
  });
  const trail = [];
  const client = new Client({ name: 'ts-oauth', version: '1' });
  const transport = new StreamableHTTPClientTransport(new URL(opts.url), { authProvider, fetch: recordingFetch(trail) });
  transport.onerror = (e) => console.error('[transport onerror]', e?.message ?? e); // non-fatal (e.g. GET SSE failures)
  await client.connect(transport);
  try {
    const version = transport.protocolVersion;
    console.log(`negotiated protocol version: ${version}`);
    if (opts.expectProtocol && version !== opts.expectProtocol) {
      throw new CheckFailed(`negotiated protocol version ${version}, expected ${opts.expectProtocol}`);
    }
    const names = (await client.listTools()).tools.map((t) => t.name);
    console.log('tools:', names);
    if (!names.includes(CALL.name)) throw new CheckFailed(`no ${CALL.name} tool in tools/list: ${names}`);
    const res = await client.callTool(CALL);
    console.log(`isError=${res.isError} content=${JSON.stringify(res.content)} structuredContent=${JSON.stringify(res.structuredContent)}`);
    const v = valueOf(res);
    if (res.isError || Number(v) !== EXPECTED) {
      throw new CheckFailed(`${CALL.name} ${JSON.stringify(CALL.arguments)} = ${JSON.stringify(v)}, expected ${EXPECTED}`);
    }
    console.log(`result=${v}`);
    checkFlow(trail, opts.url, opts.issuer, authProvider.tokens());
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
