// A real OAuth 2.1 / OIDC issuer for the mcp-auth integration tests: npm `oidc-provider` v9.
// Started by crates/mcp-auth/tests/auth.rs; never used outside tests.
//
// Environment:
//   OIDC_MODULES  node_modules folder holding oidc-provider (MCP_TEST_OIDC_MODULES in the test)
//   OIDC_PORT     port to listen on (127.0.0.1 only)
//   OIDC_CONFIG   JSON: { client: {id, secret},
//                         resources: { "<uri>": {format: "jwt"|"opaque", alg: "ES256"|"RS256", scope, ttl} } }
// Every start generates fresh ES256 + RS256 signing keys with fresh kids: restarting the process
// on the same port is a key rotation. Prints "ready <issuer> <kids>" once listening.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const modules = process.env.OIDC_MODULES;
const port = Number(process.env.OIDC_PORT);
const cfg = JSON.parse(process.env.OIDC_CONFIG);
const { default: Provider, errors } = await import(pathToFileURL(join(modules, 'oidc-provider', 'lib', 'index.js')).href);

function jwk(type, options, alg) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: `${alg.toLowerCase()}-${randomBytes(6).toString('hex')}` };
}
const keys = [jwk('ec', { namedCurve: 'P-256' }, 'ES256'), jwk('rsa', { modulusLength: 2048 }, 'RS256')];

const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [{
    client_id: cfg.client.id,
    client_secret: cfg.client.secret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      useGrantedResource: () => true,
      getResourceServerInfo(ctx, resourceIndicator) {
        const rs = cfg.resources[resourceIndicator];
        if (!rs) throw new errors.InvalidTarget();
        return {
          scope: rs.scope,
          audience: resourceIndicator,
          accessTokenTTL: rs.ttl ?? 300,
          accessTokenFormat: rs.format ?? 'jwt',
          ...(rs.format === 'opaque' ? {} : { jwt: { sign: { alg: rs.alg ?? 'ES256' } } }),
        };
      },
    },
  },
});
provider.on('server_error', (_ctx, err) => console.error('server_error', err));

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`ready ${issuer} ${keys.map((k) => k.kid).join(',')}`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
