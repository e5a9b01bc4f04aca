// Load driver for bench/oidc_roundtrip.py: authorization-code round trips, signed in, as fast as they go.
//
// Each of --connections loops repeats: GET the authorization endpoint (a fresh PKCE S256 verifier, state
// and nonce; the session cookie; the redirect not followed) → the code from the Location → POST the token
// endpoint (client_secret_basic) → GET userinfo with the access token. Only complete round trips that
// passed every check count; failures are counted apart and the first is shown on stderr.
//
// Run: node driver.mjs --discovery=URL --client-id=ID --client-secret=S --redirect-uri=URI --cookie='a=b'
//        [--cookie=… one a loop, taken in turn] [--connections=16] [--seconds=5]
// (--name=value: a secret or token that begins with "-" would otherwise read as an option)
// Prints one JSON line: {"round_trips_per_s", "failures", "p50_ms", "p99_ms", "round_trips", "seconds",
// "step_p50_ms": {"authorize", "token", "userinfo"}}.

import { createHash, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

import { Agent, request } from 'undici';

const { values: args } = parseArgs({
  options: {
    discovery: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'redirect-uri': { type: 'string' },
    cookie: { type: 'string', multiple: true },
    scope: { type: 'string', default: 'openid email profile' },
    connections: { type: 'string', default: '16' },
    seconds: { type: 'string', default: '5' },
  },
});
for (const name of ['discovery', 'client-id', 'client-secret', 'redirect-uri', 'cookie']) {
  if (!args[name]) throw new Error(`--${name} is required`);
}
const connections = Number(args.connections);
const seconds = Number(args.seconds);

// One kept-alive connection a loop, as a browser and a relying party would each hold.
const dispatcher = new Agent({ connections, pipelining: 1, keepAliveTimeout: 30_000 });

class Failure extends Error {
  constructor(step, detail) {
    super(`${step}: ${JSON.stringify(detail)}`);
    this.step = step;
    this.detail = detail;
  }
}

async function answer(step, response) {
  const body = await response.body.text();
  return { step, status: response.statusCode, location: response.headers.location, body: body.slice(0, 500) };
}

const discovery = await request(args.discovery, { dispatcher });
if (discovery.statusCode !== 200) {
  throw new Failure('discovery', await answer('discovery', discovery));
}
const metadata = await discovery.body.json();
const { issuer } = metadata;
const endpoints = {
  authorize: metadata.authorization_endpoint,
  token: metadata.token_endpoint,
  userinfo: metadata.userinfo_endpoint,
};
for (const [name, url] of Object.entries(endpoints)) {
  if (!url) throw new Error(`the discovery document names no ${name} endpoint`);
}

// RFC 6749 §2.3.1: the id and secret are form-urlencoded before they are joined for Basic.
const form = (value) => encodeURIComponent(value).replace(/%20/g, '+');
const basic = `Basic ${Buffer.from(`${form(args['client-id'])}:${form(args['client-secret'])}`).toString('base64')}`;
const random = () => randomBytes(32).toString('base64url');

// Per-step times of the successful round trips, to say where a slow one spends its time.
const steps = { authorize: [], token: [], userinfo: [] };

async function roundTrip(cookie) {
  const times = [performance.now()];
  const verifier = random();
  const state = random().slice(0, 22);
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: args['client-id'],
    redirect_uri: args['redirect-uri'],
    scope: args.scope,
    state,
    nonce: random().slice(0, 22),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  });
  const authorize = new URL(endpoints.authorize);
  authorize.search = query.toString();
  const auth = await request(authorize, { dispatcher, headers: { cookie } });
  const location = auth.headers.location;
  if (![302, 303].includes(auth.statusCode) || !location?.startsWith(args['redirect-uri'])) {
    throw new Failure('authorize', await answer('authorize', auth));
  }
  await auth.body.dump();
  times.push(performance.now());
  const back = new URL(location).searchParams;
  // RFC 9207 §2.4: where `iss` is sent, it must be the issuer the request went to.
  if (back.get('state') !== state || !back.get('code')
      || (back.has('iss') && back.get('iss') !== issuer)) {
    throw new Failure('authorize', { step: 'authorize', status: auth.statusCode, location });
  }

  const token = await request(endpoints.token, {
    dispatcher,
    method: 'POST',
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: back.get('code'),
      redirect_uri: args['redirect-uri'],
      code_verifier: verifier,
    }).toString(),
  });
  if (token.statusCode !== 200) throw new Failure('token', await answer('token', token));
  const tokens = await token.body.json();
  times.push(performance.now());
  if (!tokens.access_token || !tokens.id_token || tokens.token_type?.toLowerCase() !== 'bearer') {
    throw new Failure('token', { step: 'token', status: token.statusCode, body: tokens });
  }

  const userinfo = await request(endpoints.userinfo, {
    dispatcher,
    headers: { authorization: `Bearer ${tokens.access_token}` },
  });
  if (userinfo.statusCode !== 200) throw new Failure('userinfo', await answer('userinfo', userinfo));
  const claims = await userinfo.body.json();
  if (!claims.sub || !claims.email) {
    throw new Failure('userinfo', { step: 'userinfo', status: userinfo.statusCode, body: claims });
  }
  times.push(performance.now());
  Object.values(steps).forEach((found, i) => found.push(times[i + 1] - times[i]));
}

const latencies = [];
let failures = 0;
let firstFailure;
const started = performance.now();
const deadline = started + seconds * 1000;

async function loop(_, index) {
  const cookie = args.cookie[index % args.cookie.length];
  while (performance.now() < deadline) {
    const begun = performance.now();
    try {
      await roundTrip(cookie);
      latencies.push(performance.now() - begun);
    } catch (err) {
      failures += 1;
      firstFailure ??= err;
    }
  }
}

await Promise.all(Array.from({ length: connections }, loop));
const elapsed = (performance.now() - started) / 1000;
await dispatcher.close();

if (firstFailure) {
  console.error(`first failure of ${failures}: ${firstFailure instanceof Failure ? firstFailure.message : firstFailure.stack}`);
}
function percentile(values, p) {
  if (!values.length) return null;
  const sorted = values.toSorted((a, b) => a - b);
  return Number(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))].toFixed(2));
}
console.log(JSON.stringify({
  round_trips_per_s: Number((latencies.length / elapsed).toFixed(1)),
  failures,
  p50_ms: percentile(latencies, 0.5),
  p99_ms: percentile(latencies, 0.99),
  round_trips: latencies.length,
  seconds: Number(elapsed.toFixed(2)),
  step_p50_ms: Object.fromEntries(Object.entries(steps).map(([name, found]) => [name, percentile(found, 0.5)])),
}));
