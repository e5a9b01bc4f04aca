"""A SAML 2.0 Identity Provider for tests, built on pysaml2 (``saml2.server.Server``).

Our SP is written with python3-saml; testing it against messages that python3-saml built
itself would prove little, so the IdP side of every SSO test is pysaml2 — an independent
implementation — driving Debian's ``xmlsec1`` binary for XML signatures.

Typical use::

    idp = TestIdP(tmp_path)
    idp.trust_sp(sp_metadata_xml)                       # the SP's own metadata
    request = idp.read_authn_request(login_redirect_url)  # verifies the SP's signature
    saml_response = idp.response(
        sp_entity_id=request["sp_entity_id"],
        acs_url=request["acs_url"],
        in_response_to=request["id"],
        name_id="alice@example.org",
        attributes={"email": ["alice@example.org"], "groups": ["staff"]},
    )
    client.post(request["acs_url"], data={"SAMLResponse": saml_response,
                                          "RelayState": request["relay_state"]})

Algorithms: every signature this IdP makes is RSA-SHA256 with SHA-256 digests
(``xmldsig-more#rsa-sha256`` / ``xmlenc#sha256``), exclusive C14N — never SHA-1.

How responses are built (see :meth:`TestIdP.response_xml`): pysaml2's
``create_authn_response`` builds the Response *unsigned* (it returns a ``samlp.Response``
object). We then set every timestamp from one clock (``now + issue_instant_offset_seconds``,
validity ``lifetime_minutes``), set the SessionIndex if asked, attach pysaml2 signature
templates (``saml2.sigver.pre_signature_part``) and sign with pysaml2's own
``signed_instance_factory`` → ``SecurityContext.sign_statement`` → ``xmlsec1 --sign``,
assertion first, then the response, exactly as pysaml2 does internally. pysaml2 has no
knob to shift its clock (it calls ``time.gmtime()`` deep inside), which is why the times are
edited on the object tree before signing rather than passed in.
"""

from __future__ import annotations

import base64
import datetime as dt
import shutil
import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID
from lxml import etree

with warnings.catch_warnings():
    # saml2.cryptography.symmetric touches cryptography's deprecated CFB mode at import time
    # (CryptographyDeprecationWarning); tests run with warnings as errors, so ignore exactly that.
    warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning, module=r"saml2\.")
    from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, saml
    from saml2.attribute_converter import AttributeConverter
    from saml2.config import IdPConfig
    from saml2.metadata import create_metadata_string
    from saml2.s_utils import do_ava, factory
    from saml2.saml import NAME_FORMAT_BASIC, NAME_FORMAT_URI
    from saml2.server import Server
    from saml2.sigver import pre_signature_part, signed_instance_factory
    from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

__all__ = [
    "EMAIL",
    "PERSISTENT",
    "TRANSIENT",
    "UNSPECIFIED",
    "TestIdP",
    "make_keypair",
]

EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
UNSPECIFIED = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"

PASSWORD_PROTECTED_TRANSPORT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"

SAML_NS = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP_NS = "urn:oasis:names:tc:SAML:2.0:protocol"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
MD_NS = "urn:oasis:names:tc:SAML:2.0:metadata"

# kind -> the element's qualified name, which is also what xmlsec1 needs (--id-attr:ID <ns>:<name>)
_SIGNABLE = {
    "assertion": (SAML_NS, "Assertion"),
    "response": (SAMLP_NS, "Response"),
    "logout_request": (SAMLP_NS, "LogoutRequest"),
    "logout_response": (SAMLP_NS, "LogoutResponse"),
    "authn_request": (SAMLP_NS, "AuthnRequest"),
}

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # what pysaml2's saml2.time_util.instant() produces


def make_keypair(directory: Path, name: str, common_name: str) -> tuple[Path, Path]:
    """Write an RSA-2048 private key and a self-signed SHA-256 certificate for it.

    Returns ``(key_path, cert_path)``: ``<directory>/<name>.key`` (PKCS#8 PEM, unencrypted)
    and ``<directory>/<name>.crt`` (PEM), valid from a day ago for ten years.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path = directory / f"{name}.key"
    cert_path = directory / f"{name}.crt"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


class _VerbatimAttributes(AttributeConverter):
    """Release attributes under exactly the names they were given.

    pysaml2's stock converters would rename ``email`` to ``urn:oid:0.9.2342.19200300.100.1.3``
    (or lower-case names), so the IdP uses this one instead: names are kept as given, names
    that look like URIs/URNs get ``NameFormat=...:uri``, the others ``...:basic``.
    """

    def __init__(self):
        super().__init__(NAME_FORMAT_URI)

    def to_(self, attrvals):
        return [
            factory(
                saml.Attribute,
                name=name,
                name_format=NAME_FORMAT_URI if ":" in name else NAME_FORMAT_BASIC,
                attribute_value=do_ava(values),
            )
            for name, values in attrvals.items()
        ]


class _Server(Server):
    """pysaml2's IdP server, minus one metadata look-up.

    ``Entity._response`` asks the metadata whether the SP has an encryption certificate even
    when no encryption was asked for, which raises ``KeyError`` for an SP that was never
    trusted. This IdP never encrypts, and tests need responses for unknown audiences too.
    """

    def has_encrypt_cert_in_metadata(self, sp_entity_id):
        return False


def _xmlsec_binary() -> str:
    path = shutil.which("xmlsec1") or "/usr/bin/xmlsec1"
    if not Path(path).exists():
        raise RuntimeError("the test IdP needs the xmlsec1 binary (Debian: apt install xmlsec1)")
    return path


def _instant(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime(_TIME_FORMAT)


class TestIdP:
    """A pysaml2 IdP with its own key, for driving our SP in tests.

    Endpoints (both HTTP-Redirect): SSO ``{base_url}/sso/redirect``, SLO
    ``{base_url}/slo/redirect``. Nothing listens there: tests hand URLs and messages
    between the SP and this object themselves.
    """

    __test__ = False  # not a pytest test class, despite the name

    ENTITY_ID = "https://idp.example.org/idp/metadata"

    def __init__(
        self,
        workdir: Path,
        *,
        entity_id: str | None = None,
        base_url: str = "https://idp.example.org",
    ):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.entity_id = entity_id or self.ENTITY_ID
        base_url = base_url.rstrip("/")
        self.sso_url = f"{base_url}/sso/redirect"
        self.slo_url = f"{base_url}/slo/redirect"
        self.key_path, self.cert_path = make_keypair(self.workdir, "idp-signing", "idgate test IdP")
        self.cert_pem: str = self.cert_path.read_text()
        self.key_pem: str = self.key_path.read_text()
        self.last_logout_request_id: str | None = None
        self._sp_metadata: dict[str, Path] = {}  # SP entityID -> its metadata file
        self._server = self._build_server()

    # ------------------------------------------------------------------ set-up

    def _config_dict(self) -> dict:
        config = {
            "entityid": self.entity_id,
            "service": {
                "idp": {
                    "name": "idgate test IdP",
                    "endpoints": {
                        "single_sign_on_service": [(self.sso_url, BINDING_HTTP_REDIRECT)],
                        "single_logout_service": [(self.slo_url, BINDING_HTTP_REDIRECT)],
                    },
                    "policy": {
                        "default": {
                            "lifetime": {"minutes": 5},  # overwritten per response anyway
                            "attribute_restrictions": None,  # release everything given
                            "name_form": NAME_FORMAT_URI,  # selects _VerbatimAttributes
                            "fail_on_missing_requested": False,
                        },
                    },
                    "name_id_format": [EMAIL, PERSISTENT, TRANSIENT, UNSPECIFIED],
                    # Makes parse_authn_request verify the SP's signature (see read_authn_request).
                    "want_authn_requests_signed": True,
                    "sign_assertion": True,
                    "sign_response": False,
                },
            },
            "key_file": str(self.key_path),
            "cert_file": str(self.cert_path),
            "xmlsec_binary": _xmlsec_binary(),
            "delete_tmpfiles": True,
            "signing_algorithm": SIG_RSA_SHA256,
            "digest_algorithm": DIGEST_SHA256,
            "accepted_time_diff": 60,
        }
        if self._sp_metadata:
            config["metadata"] = {"local": [str(path) for path in self._sp_metadata.values()]}
        return config

    def _build_server(self) -> Server:
        config = IdPConfig()
        config.load(self._config_dict())
        server = _Server(config=config)
        # Release attribute names verbatim (see _VerbatimAttributes); setup_assertion and
        # Assertion.construct both read the converters from the config.
        server.config.attribute_converters = [_VerbatimAttributes()]
        return server

    def trust_sp(self, sp_metadata_xml: str) -> None:
        """Load an SP's metadata (an ``EntityDescriptor`` with an ``SPSSODescriptor``).

        The XML is written to a file in the workdir and the pysaml2 Server is rebuilt with
        ``"metadata": {"local": [one file per SP]}``: several SPs can be trusted at once.
        Trusting an SP again (same entityID) replaces its earlier metadata, so a new SP
        key/certificate takes effect. pysaml2 uses this metadata to find the SP's signing
        certificate when verifying its AuthnRequests.
        """
        if isinstance(sp_metadata_xml, str):
            sp_metadata_xml = sp_metadata_xml.encode("utf-8")
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        root = etree.fromstring(sp_metadata_xml, parser)
        entity_id = root.get("entityID")
        if root.tag != f"{{{MD_NS}}}EntityDescriptor" or not entity_id:
            raise ValueError("SP metadata must be an md:EntityDescriptor with an entityID")
        path = self._sp_metadata.get(entity_id)
        if path is None:
            path = self.workdir / f"sp-metadata-{len(self._sp_metadata) + 1}.xml"
            self._sp_metadata[entity_id] = path
        path.write_bytes(sp_metadata_xml)
        self._server = self._build_server()

    @property
    def server(self) -> Server:
        """The underlying ``saml2.server.Server``, for anything this class does not cover."""
        return self._server

    def metadata_xml(self) -> str:
        """This IdP's metadata as pysaml2 generates it: ``EntityDescriptor`` with an
        ``IDPSSODescriptor`` (signing ``KeyDescriptor`` with :attr:`cert_pem`, SSO and SLO
        endpoints, HTTP-Redirect). Unsigned."""
        xml = create_metadata_string(None, config=self._server.config)
        return xml.decode("utf-8") if isinstance(xml, bytes) else xml

    # ------------------------------------------------------------------ SSO

    def read_authn_request(self, redirect_url: str, *, verify_signature: bool = True) -> dict:
        """Parse the AuthnRequest in the URL our SP redirected the browser to.

        ``redirect_url`` is the full HTTP-Redirect URL (``sso_url?SAMLRequest=...&RelayState=
        ...&SigAlg=...&Signature=...``); it must point at :attr:`sso_url`.

        Signature verification is pysaml2's own: with ``want_authn_requests_signed`` in the
        IdP config, ``Server.parse_authn_request(..., BINDING_HTTP_REDIRECT, relay_state,
        sigalg, signature)`` rebuilds ``SAMLRequest=..&RelayState=..&SigAlg=..`` (re-encoded
        with ``urlencode``, i.e. upper-case percent escapes, as python3-saml produces) and
        checks ``Signature`` against every signing certificate in the issuer's metadata
        (``saml2.sigver.verify_redirect_signature``). Unsigned, wrongly signed or unknown-SP
        requests raise ``saml2.response.IncorrectlySigned``. So :meth:`trust_sp` first.
        ``verify_signature=False`` skips this (for SPs that do not sign requests).

        Returns a dict: ``id``, ``acs_url``, ``sp_entity_id``, ``relay_state``,
        ``name_id_policy_format`` (the keys the SP side relies on) plus ``destination``,
        ``protocol_binding``, ``force_authn``, ``is_passive``, ``sig_alg``,
        ``signature_verified``, ``acs_url_registered`` (is the ACS URL in the SP's metadata)
        and ``xml`` (the decoded request).
        """
        parts = urlsplit(redirect_url)
        endpoint = f"{parts.scheme}://{parts.netloc}{parts.path}"
        if endpoint != self.sso_url:
            raise ValueError(f"{endpoint!r} is not this IdP's SSO URL {self.sso_url!r}")
        query = {key: values[0] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
        if "SAMLRequest" not in query:
            raise ValueError("no SAMLRequest in the redirect URL")

        config = self._server.config
        config.setattr("idp", "want_authn_requests_signed", verify_signature)
        try:
            parsed = self._server.parse_authn_request(
                query["SAMLRequest"],
                BINDING_HTTP_REDIRECT,
                relay_state=query.get("RelayState"),
                sigalg=query.get("SigAlg"),
                signature=query.get("Signature"),
            )
        finally:
            config.setattr("idp", "want_authn_requests_signed", True)
        request = parsed.message
        policy = request.name_id_policy
        acs_registered = self._acs_registered(
            request.issuer.text if request.issuer is not None else None,
            request.assertion_consumer_service_url,
            request.protocol_binding or BINDING_HTTP_POST,
        )
        return {
            "id": request.id,
            "acs_url": request.assertion_consumer_service_url,
            "sp_entity_id": request.issuer.text if request.issuer is not None else None,
            "relay_state": query.get("RelayState"),
            "name_id_policy_format": policy.format if policy is not None else None,
            "destination": request.destination,
            "protocol_binding": request.protocol_binding,
            "force_authn": request.force_authn,
            "is_passive": request.is_passive,
            "sig_alg": query.get("SigAlg"),
            "signature_verified": verify_signature,
            "acs_url_registered": acs_registered,
            "xml": parsed.xmlstr,
        }

    def _acs_registered(self, sp_entity_id: str | None, acs_url: str | None, binding: str) -> bool:
        """Is ``acs_url`` one of the SP's AssertionConsumerService locations for ``binding``?

        (``Server.verify_assertion_consumer_service`` would do, but in pysaml2 7.5 it reads
        ``.text`` from the metadata's plain dicts and always fails.)
        """
        if not sp_entity_id or not acs_url or self._server.metadata is None:
            return False
        try:
            services = self._server.metadata.assertion_consumer_service(sp_entity_id, binding)
        except Exception:  # unknown SP or no ACS with that binding
            return False
        return any(service.get("location") == acs_url for service in services)

    def response_xml(
        self,
        *,
        sp_entity_id: str,
        acs_url: str,
        in_response_to: str | None,
        name_id: str,
        name_id_format: str = EMAIL,
        attributes: dict[str, list[str]] | None = None,
        session_index: str | None = None,
        sign_assertion: bool = True,
        sign_response: bool = False,
        lifetime_minutes: int = 5,
        issue_instant_offset_seconds: int = 0,
    ) -> bytes:
        """The SAML Response (decoded XML bytes) that :meth:`response` base64-encodes.

        Built by pysaml2's ``Server.create_authn_response`` with ``Destination=acs_url``,
        ``Audience=sp_entity_id``, a bearer ``SubjectConfirmationData`` with
        ``Recipient=acs_url`` and ``InResponseTo=in_response_to``, an ``AuthnStatement``
        (PasswordProtectedTransport, ``SessionIndex`` = ``session_index`` or a random one)
        and one ``Attribute`` per ``attributes`` item, names verbatim. With
        ``in_response_to=None`` (IdP-initiated) there is no ``InResponseTo`` anywhere —
        neither on the Response nor on ``SubjectConfirmationData``; ``Recipient`` stays.

        Times: ``now = utcnow() + issue_instant_offset_seconds``; IssueInstant (Response and
        Assertion), AuthnInstant and NotBefore are ``now``; Conditions/NotOnOrAfter and
        SubjectConfirmationData/NotOnOrAfter are ``now + lifetime_minutes``. So
        ``issue_instant_offset_seconds=-3600`` gives an expired assertion and ``+3600`` one
        not yet valid. No SessionNotOnOrAfter is set.

        Signing (RSA-SHA256/SHA-256, certificate embedded in KeyInfo): the assertion when
        ``sign_assertion``, the whole response when ``sign_response`` (after the assertion,
        so the response signature covers the signed assertion). Neither: unsigned.
        """
        server = self._server
        response = server.create_authn_response(
            identity=dict(attributes or {}),
            in_response_to=in_response_to,
            destination=acs_url,
            sp_entity_id=sp_entity_id,
            name_id=saml.NameID(format=name_id_format, text=name_id),
            authn={"class_ref": PASSWORD_PROTECTED_TRANSPORT, "authn_auth": self.entity_id},
            sign_assertion=False,  # signed below, after the times are set
            sign_response=False,
            encrypt_assertion=False,
            encrypted_advice_attributes=False,
        )
        if not hasattr(response, "assertion") or response.assertion is None:
            raise RuntimeError(f"pysaml2 did not build an assertion: {response}")

        now = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=issue_instant_offset_seconds)
        until = now + dt.timedelta(minutes=lifetime_minutes)
        assertion = response.assertion
        response.issue_instant = _instant(now)
        assertion.issue_instant = _instant(now)
        assertion.conditions.not_before = _instant(now)
        assertion.conditions.not_on_or_after = _instant(until)
        for confirmation in assertion.subject.subject_confirmation:
            data = confirmation.subject_confirmation_data
            data.not_on_or_after = _instant(until)
            if in_response_to is None:
                data.in_response_to = None
        for statement in assertion.authn_statement:
            statement.authn_instant = _instant(now)
            if session_index is not None:
                statement.session_index = session_index
        if in_response_to is None:
            response.in_response_to = None

        cert = server.sec.my_cert
        to_sign = []
        if sign_assertion:
            assertion.signature = pre_signature_part(
                assertion.id, cert, 1, digest_alg=DIGEST_SHA256, sign_alg=SIG_RSA_SHA256
            )
            to_sign.append((f"{SAML_NS}:Assertion", assertion.id))
        if sign_response:
            response.signature = pre_signature_part(
                response.id, cert, 2, digest_alg=DIGEST_SHA256, sign_alg=SIG_RSA_SHA256
            )
            to_sign.append((f"{SAMLP_NS}:Response", response.id))
        signed = signed_instance_factory(response, server.sec, to_sign)
        if isinstance(signed, str):
            return signed.encode("utf-8")
        return signed.to_string()

    def response(self, **kwargs) -> str:
        """The SAMLResponse form value to POST to the ACS (HTTP-POST binding): base64 of
        :meth:`response_xml`, which documents the keyword arguments."""
        return base64.b64encode(self.response_xml(**kwargs)).decode("ascii")

    # ------------------------------------------------------------------ signing

    def sign_xml(self, xml: bytes, node_id: str, *, kind: str = "assertion") -> bytes:
        """Sign the element with ``ID=node_id`` in ``xml`` with this IdP's key.

        ``kind`` names the element: ``assertion``, ``response``, ``logout_request``,
        ``logout_response`` or ``authn_request``; it must match the element found. Any
        ``ds:Signature`` directly inside that element is replaced by a fresh pysaml2 template
        (RSA-SHA256, SHA-256, enveloped + exclusive C14N, our certificate in KeyInfo) placed
        right after its ``Issuer``, then ``SecurityContext.sign_statement`` runs
        ``xmlsec1 --sign --id-attr:ID <element> --node-id <node_id>``. Other signatures in
        the document are left as they are (so re-signing an assertion inside a signed
        response breaks the response signature — sign the response again if needed).

        Raises ``ValueError`` unless exactly one element carries that ID.
        """
        if kind not in _SIGNABLE:
            raise ValueError(f"kind must be one of {sorted(_SIGNABLE)}, not {kind!r}")
        namespace, local_name = _SIGNABLE[kind]
        if isinstance(xml, str):
            xml = xml.encode("utf-8")
        parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)
        root = etree.fromstring(xml, parser)
        matches = root.xpath("//*[@ID=$id]", id=node_id)
        if len(matches) != 1:
            raise ValueError(f"expected one element with ID={node_id!r}, found {len(matches)}")
        element = matches[0]
        if element.tag != f"{{{namespace}}}{local_name}":
            raise ValueError(f"element with ID={node_id!r} is {element.tag}, not a {kind}")

        for old in element.findall(f"{{{DS_NS}}}Signature"):
            element.remove(old)
        template = pre_signature_part(
            node_id, self._server.sec.my_cert, None, digest_alg=DIGEST_SHA256, sign_alg=SIG_RSA_SHA256
        )
        signature = etree.fromstring(template.to_string(), parser)
        issuer = element.find(f"{{{SAML_NS}}}Issuer")
        position = element.index(issuer) + 1 if issuer is not None else 0
        element.insert(position, signature)

        document = etree.tostring(root, encoding="unicode")
        signed = self._server.sec.sign_statement(
            document, node_name=f"{namespace}:{local_name}", node_id=node_id
        )
        return signed.encode("utf-8") if isinstance(signed, str) else signed

    # ------------------------------------------------------------------ SLO

    def logout_request_redirect(
        self,
        *,
        sls_url: str,
        sp_entity_id: str,
        name_id: str,
        name_id_format: str = EMAIL,
        session_index: str | None = None,
        sign: bool = True,
        relay_state: str | None = None,
    ) -> str:
        """An IdP-initiated LogoutRequest as the full HTTP-Redirect URL to the SP's SLS:
        ``sls_url?SAMLRequest=...[&RelayState=...]&SigAlg=...&Signature=...``.

        Made by ``Server.create_logout_request`` (Destination=sls_url, Issuer=this IdP,
        NameID with ``name_id_format``, optional SessionIndex) and ``Server.apply_binding(
        BINDING_HTTP_REDIRECT, ...)``, which deflates, base64s and signs the query string
        with this IdP's key (RSA-SHA256). ``sign=False``: no SigAlg/Signature. The request
        ID is kept in :attr:`last_logout_request_id`. ``sp_entity_id`` is the NameID's
        SPNameQualifier.
        """
        request_id, request = self._server.create_logout_request(
            destination=sls_url,
            issuer_entity_id=sp_entity_id,
            name_id=saml.NameID(format=name_id_format, sp_name_qualifier=sp_entity_id, text=name_id),
            session_indexes=[session_index] if session_index else None,
            sign=False,  # the redirect binding signs the query string, not the XML
        )
        self.last_logout_request_id = request_id
        info = self._server.apply_binding(
            BINDING_HTTP_REDIRECT,
            str(request),
            destination=sls_url,
            relay_state=relay_state or "",
            sign=sign,
            sigalg=SIG_RSA_SHA256,
        )
        return dict(info["headers"])["Location"]

