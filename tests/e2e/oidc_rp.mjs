// A relying party built on panva's openid-client (v6, OpenID certified), signing a member in through
// idgate's OpenID Connect provider: discovery, authorization URL (PKCE S256, state, nonce), the
// browser's visit to /oauth/authorize with its session cookie, the code grant (openid-client checks
// iss per RFC 9207, state, PKCE and the ID token), userinfo, a refresh, the end-session URL, and a
// replay of the code. Prints one JSON object on stdout; a failure prints {"failed": ...} and exits 1.
//
// Usage: node oidc_rp.mjs ISSUER CLIENT_ID REDIRECT_URI POST_LOGOUT_REDIRECT_URI [SCOPE]
// with OIDC_CLIENT_SECRET and IDGATE_SESSION (the idgate_session cookie's value) in the environment.
import * as client from 'openid-client'

const [issuer, clientId, redirectUri, postLogoutRedirectUri, scope = 'openid email profile offline_access'] =
  process.argv.slice(2)
const clientSecret = process.env.OIDC_CLIENT_SECRET
const session = process.env.IDGATE_SESSION

function describe(error) {
  return {
    name: error?.name, message: error?.message, code: error?.code, error: error?.error,
    error_description: error?.error_description, status: error?.status,
    cause: error?.cause instanceof Error ? error.cause.message : error?.cause,
  }
}

async function main() {
  // The test gateway is plain http on 127.0.0.1: openid-client v6 refuses http unless told, so
  // allowInsecureRequests is used here for tests only (a real deployment is https).
  const config = await client.discovery(new URL(issuer), clientId, clientSecret,
    client.ClientSecretBasic(clientSecret), { execute: [client.allowInsecureRequests] })
  const metadata = config.serverMetadata()

  const verifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const nonce = client.randomNonce()
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri, scope, state, nonce,
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  })

  // The browser: it carries the member's session cookie and stops at the redirect to the client.
  const answer = await fetch(authorizationUrl, { redirect: 'manual', headers: { cookie: `idgate_session=${session}` } })
  const location = answer.headers.get('location')
  if (answer.status !== 302 || !location || !location.startsWith(redirectUri)) {
    throw new Error(`authorize answered ${answer.status} to ${location}: ${(await answer.text()).slice(0, 500)}`)
  }
  const callback = new URL(location)

  const checks = { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true }
  const tokens = await client.authorizationCodeGrant(config, callback, checks)
  const claims = tokens.claims()
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub)

  let refreshed = null
  if (scope.split(' ').includes('offline_access')) {
    const again = await client.refreshTokenGrant(config, tokens.refresh_token)
    refreshed = {
      access_token_changed: again.access_token !== tokens.access_token,
      refresh_token_changed: Boolean(again.refresh_token) && again.refresh_token !== tokens.refresh_token,
      id_token_sub: again.claims()?.sub ?? null,
      userinfo_sub: (await client.fetchUserInfo(config, again.access_token, claims.sub)).sub,
    }
  }

  const endSessionUrl = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token, post_logout_redirect_uri: postLogoutRedirectUri, state,
  }).href

  // The same code a second time: the provider must refuse it.
  let replay
  try {
    await client.authorizationCodeGrant(config, callback, checks)
    replay = { refused: false }
  } catch (error) {
    replay = { refused: true, ...describe(error) }
  }

  return {
    issuer: metadata.issuer, callback_iss: callback.searchParams.get('iss'), claims, userinfo,
    scope: tokens.scope ?? null, token_type: tokens.token_type, has_refresh_token: Boolean(tokens.refresh_token),
    refreshed, end_session_url: endSessionUrl, replay,
  }
}

try {
  console.log(JSON.stringify(await main()))
} catch (error) {
  console.log(JSON.stringify({ failed: describe(error) }))
  process.exit(1)
}
