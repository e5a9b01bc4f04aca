// panva's oidc-provider as bench/oidc_roundtrip.py's peer: its default in-memory storage, one
// confidential client, RS256 ID tokens, PKCE required, plain http on 127.0.0.1.
//
// Run: NODE_ENV=production node provider.mjs --port P --client-id ID --client-secret S --redirect-uri URI
//
// The sign-in page is ours (devInteractions are off, as in any deployment): /interaction/:uid signs in
// the one account and grants the scopes asked for, through the provider's own interactionDetails and
// interactionFinished. The bench passes through it once; every measured /auth then finds the session
// and the grant and answers with a code at once.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'redirect-uri': { type: 'string' },
  },
});
for (const name of ['port', 'client-id', 'client-secret', 'redirect-uri']) {
  if (!args[name]) throw new Error(`--${name} is required`);
}

const ACCOUNT_ID = 'member-1';
const CLAIMS = {
  sub: ACCOUNT_ID,
  email: 'member@org00.example.com',
  email_verified: true,
  name: 'Mia Member',
  given_name: 'Mia',
  family_name: 'Member',
};

// A fresh key a run, instead of the quick-start keys the provider ships for development.
const signingKey = {
  ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
  kid: 'bench-rs256',
  alg: 'RS256',
  use: 'sig',
};

const issuer = `http://127.0.0.1:${args.port}`;
const provider = new Provider(issuer, {
  clients: [{
    client_id: args['client-id'],
    client_secret: args['client-secret'],
    redirect_uris: [args['redirect-uri']],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
  }],
  jwks: { keys: [signingKey] },
  // Signed cookies (`_session` and `_session.sig`), as a deployment would have them.
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name'],
  },
  // Its default asks PKCE of public clients only; ours asks it of every client, so both do here.
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  // Its defaults, spelled out so that it does not log a reminder to choose them.
  ttl: {
    AccessToken: 3600, AuthorizationCode: 60, IdToken: 3600, Interaction: 3600, Session: 14 * 24 * 3600,
    Grant: 14 * 24 * 3600,
  },
  async findAccount(ctx, id) {
    if (id !== ACCOUNT_ID) return undefined;
    return { accountId: id, async claims() { return CLAIMS; } };
  },
});

async function signIn(req, res) {
  const { params } = await provider.interactionDetails(req, res);
  const grant = new provider.Grant({ accountId: ACCOUNT_ID, clientId: params.client_id });
  grant.addOIDCScope(String(params.scope));
  const result = { login: { accountId: ACCOUNT_ID }, consent: { grantId: await grant.save() } };
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

const callback = provider.callback();
const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url.startsWith('/interaction/')) {
    signIn(req, res).catch((err) => {
      res.statusCode = 400;
      res.end(String(err));
    });
    return;
  }
  callback(req, res);
});
server.listen(Number(args.port), '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
