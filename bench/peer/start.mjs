// The peer for scripts/load: node-oidc-provider 9.13.3 on 127.0.0.1 only, set up like
// ../shared/peer-bench/peer/start.mjs (same keys, client_credentials client, resource servers
// and introspection rules; that file is read-only, so this is a copy with additions), plus what
// the shared one lacks for the write paths:
//
// - a code client (authorization_code + refresh_token, client_secret_basic, PKCE S256, one
//   redirect URI) whose refresh tokens rotate on every use, as Tessera's do;
// - an account store that knows one user (`bench-user`), for userinfo and the code grant;
// - `POST /bench/codes?n=N` (loopback, bench only): mints N authorization codes for the code
//   client through the provider's own models (a Grant and an AuthorizationCode each, the same
//   objects its authorization endpoint saves after sign-in and consent) and answers them one per
//   line. Interactions are not enabled, so this is how codes exist at all.
//
//   ACCESS_TOKEN_ALG=RS256|ES256   alg that signs JWT access tokens (default ES256)
//   PORT=3200                      listen port (host is always 127.0.0.1)
//
// Storage is the provider's own in-memory adapter and LRU store, with room for 2,000,000 entries
// instead of its default 1,000 (which drops codes and grants as soon as a pool of codes is
// minted): nothing is written to disk, so its write paths cost no fsync — keep that in mind
// beside Tessera's SQLite/PostgreSQL figures.
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';

const store = new LRU({ maxSize: 2000000 });

const HOST = '127.0.0.1';
const PORT = Number.parseInt(process.env.PORT ?? '3200', 10);
const ISSUER = `http://${HOST}:${PORT}`;
const ALG = (process.env.ACCESS_TOKEN_ALG ?? 'ES256').toUpperCase();
const API_RESOURCE = 'urn:bench:api';
const OPAQUE_RESOURCE = 'urn:bench:opaque';
const CC_CLIENT = { id: 'bench-client', secret: 'bench-secret-0123456789abcdef' };
const CODE_CLIENT = {
  id: 'bench-code-client',
  secret: 'bench-code-secret-0123456789abcdef',
  redirect: 'http://127.0.0.1:9/cb',
};
// The PKCE pair every minted code carries (RFC 7636 Appendix B).
const CODE_CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
const ACCOUNT = 'bench-user';

if (!['RS256', 'ES256'].includes(ALG)) {
  console.error(`ACCESS_TOKEN_ALG must be RS256 or ES256, got ${ALG}`);
  process.exit(2);
}

function jwkFor(type, options, alg, kid) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid };
}

const jwks = {
  keys: [
    jwkFor('rsa', { modulusLength: 2048 }, 'RS256', 'rsa-2048'),
    jwkFor('ec', { namedCurve: 'P-256' }, 'ES256', 'ec-p256'),
  ],
};

const resourceServers = {
  [API_RESOURCE]: {
    scope: 'api:read api:write',
    audience: API_RESOURCE,
    accessTokenTTL: 3600,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: ALG } },
  },
  [OPAQUE_RESOURCE]: {
    scope: 'api:read api:write',
    audience: OPAQUE_RESOURCE,
    accessTokenTTL: 3600,
    accessTokenFormat: 'opaque',
  },
};

const configuration = {
  adapter: (model) => new MemoryAdapter(model, store),
  clients: [
    {
      client_id: CC_CLIENT.id,
      client_secret: CC_CLIENT.secret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'api:read api:write',
    },
    {
      client_id: CODE_CLIENT.id,
      client_secret: CODE_CLIENT.secret,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [CODE_CLIENT.redirect],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: ALG,
    },
  ],
  jwks,
  scopes: ['openid', 'offline_access', 'profile', 'api:read', 'api:write'],
  claims: { openid: ['sub'], profile: ['name'] },
  cookies: { keys: ['bench-cookie-key-not-secret-0000'] },
  enabledJWA: { idTokenSigningAlgValues: ['RS256', 'ES256'] },
  ttl: {
    ClientCredentials: (ctx, token) => token.resourceServer?.accessTokenTTL ?? 600,
    AuthorizationCode: 600,
    AccessToken: 3600,
    IdToken: 3600,
    RefreshToken: 14 * 24 * 3600,
    Grant: 14 * 24 * 3600,
  },
  findAccount: async (ctx, id) => (id === ACCOUNT
    ? { accountId: id, claims: async () => ({ sub: id, name: 'Bench User' }) }
    : undefined),
  // Every use rotates, as in Tessera (the default rotates only public clients' tokens).
  rotateRefreshToken: true,
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      allowedPolicy: async (ctx, client) => client.clientAuthMethod !== 'none',
    },
    revocation: {
      enabled: true,
      allowedPolicy: async (ctx, client, token) => token.clientId === client.clientId,
    },
    resourceIndicators: {
      enabled: true,
      // client_credentials gets the JWT resource; the code client's access tokens are for
      // userinfo (opaque), which is what a relying party signing a user in asks for.
      defaultResource: async (ctx) => (ctx.oidc.params?.grant_type === 'client_credentials'
        ? API_RESOURCE
        : undefined),
      useGrantedResource: async () => true,
      getResourceServerInfo: async (ctx, resourceIndicator) => {
        const info = resourceServers[resourceIndicator];
        if (!info) {
          throw new Provider.errors.InvalidTarget();
        }
        return info;
      },
    },
  },
};

const provider = new Provider(ISSUER, configuration);
provider.proxy = false;

async function mint(n) {
  const client = await provider.Client.find(CODE_CLIENT.id);
  const codes = [];
  for (let i = 0; i < n; i += 1) {
    const grant = new provider.Grant({ accountId: ACCOUNT, clientId: CODE_CLIENT.id });
    grant.addOIDCScope('openid offline_access profile');
    const grantId = await grant.save();
    const code = new provider.AuthorizationCode({
      accountId: ACCOUNT,
      authTime: Math.floor(Date.now() / 1000),
      client,
      codeChallenge: CODE_CHALLENGE,
      codeChallengeMethod: 'S256',
      grantId,
      redirectUri: CODE_CLIENT.redirect,
      scope: 'openid offline_access profile',
    });
    codes.push(await code.save());
  }
  return codes;
}

const callback = provider.callback();
const server = createServer((req, res) => {
  const url = new URL(req.url, ISSUER);
  if (req.method === 'POST' && url.pathname === '/bench/codes') {
    const n = Math.min(Number.parseInt(url.searchParams.get('n') ?? '1', 10) || 1, 200000);
    mint(n).then((codes) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`${codes.join('\n')}\n`);
    }, (err) => {
      res.writeHead(500);
      res.end(String(err));
    });
    return;
  }
  callback(req, res);
});
server.listen(PORT, HOST, () => {
  console.log(JSON.stringify({
    msg: 'oidc-provider peer listening', issuer: ISSUER, access_token_alg: ALG, pid: process.pid,
  }));
});

function shutdown() {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
