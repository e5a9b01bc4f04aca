// An organization's own OpenID Connect IdP for idgate's tests: panva's oidc-provider (OpenID
// certified, written by no one here), so what our sign-in accepts from it a real IdP will send.
//
// Usage: node oidc_idp.mjs PORT [CONFIG.json]   (or the config as JSON in OIDC_IDP_CONFIG)
// The config names the one confidential client: client_id, client_secret, redirect_uris,
// post_logout_redirect_uris, backchannel_logout_uri. The issuer is http://localhost:PORT.
//
// Test-only routes beside the provider's (a real IdP has neither):
//   PUT /test/accounts/:sub  {email, email_verified, name, groups}: the claims the account has now;
//   GET, POST /interaction/:uid  a form to sign in as `sub` with, no password and no browser needed.
// Prints "oidc_idp ready <issuer>" on stdout once it listens.
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import Provider from 'oidc-provider'

const [port, configPath] = process.argv.slice(2)
const config = JSON.parse(configPath ? readFileSync(configPath, 'utf8') : process.env.OIDC_IDP_CONFIG)
const issuer = `http://localhost:${port}`

// What the test set last: findAccount reads it on every call, so a change shows at the next sign-in.
const accounts = new Map()
// The scopes this IdP grants, and the claims each one releases.
const CLAIMS = { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] }

const provider = new Provider(issuer, {
  clients: [{
    client_id: config.client_id,
    client_secret: config.client_secret,
    redirect_uris: config.redirect_uris,
    post_logout_redirect_uris: config.post_logout_redirect_uris ?? [],
    ...(config.backchannel_logout_uri
      ? { backchannel_logout_uri: config.backchannel_logout_uri, backchannel_logout_session_required: true }
      : {}),
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  claims: CLAIMS,
  // A fresh key per run: no key of a previous run (or of oidc-provider's quick-start set) can verify.
  jwks: { keys: [generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' })] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  features: {
    devInteractions: { enabled: false }, // ours below: the quick-start ones want a password form
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true }, // and with it, `sid` in ID tokens
  },
  // The default requires PKCE of public clients only: requiring it of ours proves the gateway sends it.
  pkce: { required: () => true },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  // Its back-channel logouts go to the gateway under test, on loopback: the provider's guard against
  // requests to special-use addresses (SSRF) would refuse them all, so its dispatcher is left out.
  fetch: (url, options) => fetch(url, { ...options, dispatcher: undefined }),
  async findAccount(ctx, sub) {
    const claims = accounts.get(sub)
    return claims && { accountId: sub, claims: async () => ({ sub, ...claims }) }
  },
})

const page = (uid, note = '') => `<!doctype html><title>Sign in</title>${note}
<form method="post" action="/interaction/${uid}"><input name="sub"><button>Sign in</button></form>`

async function body(req) {
  const chunks = []
  for await (const chunk of req) chunks.push(chunk)
  return Buffer.concat(chunks).toString('utf8')
}

// Login and consent in one answer: the account signs in and grants what the client asked of the
// scopes above, so the browser goes straight back to the client.
async function interaction(req, res, uid) {
  const { params } = await provider.interactionDetails(req, res)
  if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'text/html' }).end(page(uid))
    return
  }
  const sub = new URLSearchParams(await body(req)).get('sub')
  if (!accounts.has(sub)) {
    res.writeHead(400, { 'content-type': 'text/html' }).end(page(uid, `<p>No account ${sub}.</p>`))
    return
  }
  const grant = new provider.Grant({ accountId: sub, clientId: params.client_id })
  grant.addOIDCScope(params.scope.split(' ').filter((scope) => scope in CLAIMS).join(' '))
  const grantId = await grant.save()
  await provider.interactionFinished(req, res, { login: { accountId: sub }, consent: { grantId } },
    { mergeWithLastSubmission: false })
}

// Back-channel logouts are posted in the background of the IdP's own sign-out: its log says how each went.
provider.on('backchannel.success', (client, accountId, sid) => console.log(`backchannel logout ${client.clientId} ${sid}: ok`))
provider.on('backchannel.error', (ctx, error, client) => console.log(`backchannel logout ${client.clientId}: ${error} ${error.cause ?? ""}`))

const handle = provider.callback()
const server = http.createServer(async (req, res) => {
  const path = new URL(req.url, issuer).pathname
  try {
    const account = path.match(/^\/test\/accounts\/([^/]+)$/)
    if (account && req.method === 'PUT') {
      accounts.set(decodeURIComponent(account[1]), JSON.parse(await body(req)))
      res.writeHead(204).end()
      return
    }
    const pending = path.match(/^\/interaction\/([^/]+)$/)
    if (pending) {
      await interaction(req, res, pending[1])
      return
    }
  } catch (error) { // an interaction unknown or expired: say so, as a 400 the test can read
    res.writeHead(400, { 'content-type': 'text/plain' }).end(`${error.name}: ${error.message}`)
    return
  }
  handle(req, res)
})

// Loopback only: this IdP signs anyone in who asks.
server.listen(Number(port), '127.0.0.1', () => console.log(`oidc_idp ready ${issuer}`))
