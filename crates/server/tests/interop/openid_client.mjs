// A third client library, the one certified relying parties use in Node: openid-client (with
// jose for keys and assertions).
//
//   node openid_client.mjs keygen                 -> {"private": JWK, "public": JWK} (EC P-256, no alg)
//   node openid_client.mjs client-credentials     < job {issuer, client_id, client_secret, auth}
//   node openid_client.mjs jwt-bearer             < job {issuer, client_id, client_secret, private}
//   node openid_client.mjs par-url                < job {issuer, client_id, client_secret, redirect_uri, verifier, state}
//                                                 -> {"url": the authorization URL after pushing (RFC 9126)}
//   node openid_client.mjs code-grant             < job {…, callback, verifier, state, nonce}
//   node openid_client.mjs dpop-client-credentials < job {issuer, client_id, client_secret}
//                                                 -> the token response of a DPoP-bound client_credentials
//                                                    grant (RFC 9449), and the thumbprint of the library's key
//   node openid_client.mjs device                 < job {issuer, client_id, auth: "none", scope}
//                                                 -> first {"user_code", "verification_uri_complete"},
//                                                    then the token response once the user allowed it (RFC 8628)
//
// Every answer is one JSON line: the token response, or {"error", "status", "www_authenticate"}.
import * as client from 'openid-client';
import * as jose from 'jose';

const readJob = async () => {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString());
};

// A 401 with a challenge is reported as the challenge (its parameters), not the body.
const failure = (err) => ({
  error: err.error ?? err.cause?.[0]?.parameters?.error ?? err.code ?? err.name,
  status: err.status ?? err.cause?.status,
  www_authenticate: err.response?.headers?.get?.('www-authenticate') ?? null,
  description: err.error_description ?? err.message,
});

const configure = (job) =>
  client.discovery(
    new URL(job.issuer),
    job.client_id,
    undefined,
    job.auth === 'none'
      ? client.None()
      : job.auth === 'post'
        ? client.ClientSecretPost(job.client_secret)
        : client.ClientSecretBasic(job.client_secret),
    { execute: [client.allowInsecureRequests] },
  );

const command = process.argv[2];
let answer;
if (command === 'keygen') {
  const { publicKey, privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
  const pub = await jose.exportJWK(publicKey);
  const priv = await jose.exportJWK(privateKey);
  pub.kid = priv.kid = await jose.calculateJwkThumbprint(pub);
  pub.use = 'sig';
  answer = { private: priv, public: pub };
} else {
  const job = await readJob();
  try {
    const config = await configure(job);
    if (command === 'client-credentials') {
      answer = await client.clientCredentialsGrant(config);
    } else if (command === 'jwt-bearer') {
      const key = await jose.importJWK(job.private, 'ES256');
      const now = Math.floor(Date.now() / 1000);
      const tokenEndpoint = config.serverMetadata().token_endpoint;
      const assertion = await new jose.SignJWT({ jti: crypto.randomUUID() })
        .setProtectedHeader({ alg: 'ES256', kid: job.private.kid })
        .setIssuer(job.client_id)
        .setSubject(job.client_id)
        .setAudience(tokenEndpoint)
        .setIssuedAt(now)
        .setExpirationTime(now + 300)
        .sign(key);
      answer = await client.genericGrantRequest(config, 'urn:ietf:params:oauth:grant-type:jwt-bearer', { assertion });
    } else if (command === 'par-url') {
      const url = await client.buildAuthorizationUrlWithPAR(config, {
        redirect_uri: job.redirect_uri,
        scope: 'openid',
        state: job.state,
        nonce: job.nonce,
        code_challenge: await client.calculatePKCECodeChallenge(job.verifier),
        code_challenge_method: 'S256',
      });
      answer = { url: url.href };
    } else if (command === 'code-grant') {
      const tokens = await client.authorizationCodeGrant(config, new URL(job.callback), {
        pkceCodeVerifier: job.verifier,
        expectedState: job.state,
        expectedNonce: job.nonce,
        idTokenExpected: true,
      });
      answer = { ...tokens, claims: tokens.claims() };
    } else if (command === 'dpop-client-credentials') {
      const keyPair = await client.randomDPoPKeyPair('ES256');
      const DPoP = client.getDPoPHandle(config, keyPair);
      const tokens = await client.clientCredentialsGrant(config, {}, { DPoP });
      const jwk = await jose.exportJWK(keyPair.publicKey);
      answer = { ...tokens, jkt: await jose.calculateJwkThumbprint(jwk) };
    } else if (command === 'device') {
      const started = await client.initiateDeviceAuthorization(config, { scope: job.scope });
      console.log(JSON.stringify({
        user_code: started.user_code,
        verification_uri_complete: started.verification_uri_complete,
      }));
      const tokens = await client.pollDeviceAuthorizationGrant(config, started);
      answer = { ...tokens, claims: tokens.claims() };
    } else {
      throw new Error(`unknown command ${command}`);
    }
  } catch (err) {
    answer = failure(err);
  }
}
console.log(JSON.stringify(answer));
