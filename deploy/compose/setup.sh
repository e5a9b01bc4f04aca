#!/bin/sh
# Prepares the compose demo: schema, organization "demo", and the test IdP as its SSO.
set -e
idgate init
idgate org create demo --name "Demo" --admin-email admin@example.com --admin-name "Demo Admin" || true
# The IdP answers with its public host name (the browser's), not the compose service name.
for i in $(seq 30); do
  python -c "
import urllib.request
req = urllib.request.Request('http://idp:8080/simplesaml/saml2/idp/metadata.php', headers={'Host': 'localhost:8080'})
open('/tmp/idp.xml', 'wb').write(urllib.request.urlopen(req, timeout=5).read())
" && break
  sleep 2
done
idgate saml configure demo --idp-metadata /tmp/idp.xml --email-domain example.com
