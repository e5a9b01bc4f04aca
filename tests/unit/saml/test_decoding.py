"""What is refused before any XML parser sees it."""

from __future__ import annotations

import base64
import zlib

import pytest

from saml import errors
from saml.logout import MAX_INFLATED_BYTES, inflate
from saml.sp import MAX_RESPONSE_BYTES, decode_response


class TestDecodeResponse:
    def test_a_missing_response_is_named(self):
        with pytest.raises(errors.MissingResponse):
            decode_response("")
        with pytest.raises(errors.MissingResponse):
            decode_response(None)

    @pytest.mark.parametrize("value", ["not base64!!", "%%%%", "YWJj=ZGVm", "\x00\x01"])
    def test_non_base64_is_malformed(self, value):
        with pytest.raises(errors.MalformedResponse):
            decode_response(value)

    def test_oversized_input_is_refused_before_decoding(self):
        with pytest.raises(errors.MalformedResponse, match="too large"):
            decode_response("A" * (MAX_RESPONSE_BYTES + 4))

    @pytest.mark.parametrize("xml", [
        b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
        b'<?xml version="1.0"?><!doctype lolz [<!ENTITY lol "lol">]><lolz>&lol;</lolz>',
        b'<r><!ENTITY a "b"></r>',
    ])
    def test_a_dtd_is_refused(self, xml):
        with pytest.raises(errors.MalformedResponse, match="DTD"):
            decode_response(base64.b64encode(xml).decode())

    def test_line_breaks_in_base64_are_fine(self):
        encoded = base64.encodebytes(b"<samlp:Response/>" * 10).decode()
        assert decode_response(encoded).startswith(b"<samlp:Response/>")


class TestInflate:
    @staticmethod
    def _deflate(data: bytes) -> str:
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        return base64.b64encode(compressor.compress(data) + compressor.flush()).decode()

    def test_inflates_a_normal_message(self):
        assert inflate(self._deflate(b"<samlp:LogoutRequest/>")) == b"<samlp:LogoutRequest/>"

    def test_a_deflate_bomb_is_stopped_at_the_cap(self):
        bomb = self._deflate(b"A" * (50 * 1024 * 1024))  # 50 MiB of As deflate to ~50 KB
        with pytest.raises(errors.LogoutError):
            inflate(bomb)

    def test_just_over_the_cap_is_refused(self):
        with pytest.raises(errors.LogoutError, match="size limit"):
            inflate(self._deflate(b"B" * (MAX_INFLATED_BYTES + 1)))

    @pytest.mark.parametrize("value", [None, "", "!!!", base64.b64encode(b"not deflate").decode()])
    def test_garbage_is_refused(self, value):
        with pytest.raises(errors.LogoutError):
            inflate(value)
