"""The fast path's batched tally adds up to what one observation a request would have given."""

from __future__ import annotations

from prometheus_client import REGISTRY

from gateway.metrics import HotPathTally


def _sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_flushed_tally_counts_every_request_and_fills_the_buckets_observe_would():
    tally = HotPathTally.of("test.batched")
    before_le_1ms = _sample("idgate_http_request_duration_seconds_bucket", endpoint="test.batched", le="0.001")
    before_le_10ms = _sample("idgate_http_request_duration_seconds_bucket", endpoint="test.batched", le="0.01")
    before_sum = _sample("idgate_http_request_duration_seconds_sum", endpoint="test.batched")
    before_200 = _sample("idgate_http_requests_total", endpoint="test.batched", method="GET", status="200")

    for seconds in (0.0004, 0.001, 0.003, 0.02):
        tally.observe("200", seconds)
    tally.observe("401", 0.0001)
    tally.flush()

    assert _sample("idgate_http_requests_total", endpoint="test.batched", method="GET", status="200") == before_200 + 4
    assert _sample("idgate_http_requests_total", endpoint="test.batched", method="GET", status="401") >= 1
    # Cumulative buckets: ≤ 1 ms holds 0.0001, 0.0004 and 0.001 (a bound holds its own value); ≤ 10 ms one more.
    assert _sample("idgate_http_request_duration_seconds_bucket", endpoint="test.batched", le="0.001") == before_le_1ms + 3
    assert _sample("idgate_http_request_duration_seconds_bucket", endpoint="test.batched", le="0.01") == before_le_10ms + 4
    assert abs(_sample("idgate_http_request_duration_seconds_sum", endpoint="test.batched") - before_sum - 0.0245) < 1e-9


def test_one_tally_an_endpoint_and_process():
    assert HotPathTally.of("test.one") is HotPathTally.of("test.one")


def test_a_tally_counts_each_method_apart():
    tally = HotPathTally.of("test.methods")
    before = _sample("idgate_http_requests_total", endpoint="test.methods", method="POST", status="200")
    tally.observe("200", 0.001, "POST")
    tally.observe("200", 0.001)
    tally.flush()
    assert _sample("idgate_http_requests_total", endpoint="test.methods", method="POST", status="200") == before + 1
    assert _sample("idgate_http_requests_total", endpoint="test.methods", method="GET", status="200") >= 1
