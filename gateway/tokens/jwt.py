"""The short-lived signed JWT handed to downstream apps in X-Auth-Token (ES256, joserfc).

Minting costs an ECDSA signature, so a token is reused for the same session
while it has more than a third of its life left. The cache key holds every
claim that could change (user, email, name, organization, role), so a role
change or an organization switch mints a new token at once. Whether the
session is still valid is never cached: /auth/verify resolves it every time.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from datetime import datetime

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwt import JWTClaimsRegistry

from gateway.config import Settings
from gateway.sessions.services import SessionContext
from gateway.tokens.keys import ALGORITHM, key_set, signing_keys

_CACHE_SIZE = 50_000
_cache: OrderedDict = OrderedDict()
_lock = threading.Lock()  # for writers: readers take one lookup


def claims_for(ctx: SessionContext, settings: Settings, now: datetime) -> dict:
    issued = int(now.timestamp())
    return {
        "iss": settings.base_url, "sub": str(ctx.user_id), "aud": settings.token_audience,
        "email": ctx.email, "name": ctx.name, "org": ctx.org_slug, "role": ctx.role, "groups": list(ctx.groups),
        "sid": str(ctx.session_id), "amr": list(ctx.amr), "iat": issued, "exp": issued + int(settings.token_ttl.total_seconds()),
        "jti": secrets.token_urlsafe(16),
    }


def token_for(ctx: SessionContext, settings: Settings, now: datetime) -> tuple[str, bool]:
    """(token, reused?) for a valid session."""
    current, _ = signing_keys(settings.certs_dir)
    key = (ctx.session_id, ctx.user_id, ctx.email, ctx.name, ctx.org_slug, ctx.role, ctx.groups, ctx.amr, current.kid,
           settings.base_url, settings.token_audience)
    # Read without the lock (one dict lookup is atomic): the hot path asks this on every verify.
    hit = _cache.get(key)
    if hit and hit[1] - now.timestamp() > settings.token_ttl.total_seconds() / 3:
        return hit[0], True
    claims = claims_for(ctx, settings, now)
    token = jwt.encode({"alg": ALGORITHM, "kid": current.kid, "typ": "JWT"}, claims, current,
                       algorithms=[ALGORITHM])
    with _lock:
        _cache[key] = (token, claims["exp"])
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return token, False


def verify(token: str, settings: Settings, now: datetime) -> dict | None:
    """The claims of a token we signed that has not expired, else None."""
    if not token or len(token) > 4096 or token.count(".") != 2:
        return None
    try:
        decoded = jwt.decode(token, key_set(settings.certs_dir), algorithms=[ALGORITHM])
        JWTClaimsRegistry(now=int(now.timestamp()), leeway=0, iss={"essential": True, "value": settings.base_url},
                          aud={"essential": True, "value": settings.token_audience},
                          exp={"essential": True}).validate(decoded.claims)
    except (JoseError, ValueError, TypeError):
        return None
    return decoded.claims
