"""IP addresses at the edges of sentences, in URLs, with ports and in brackets."""

from __future__ import annotations

import pytest

from guardrails_plugin.masking import Masker


@pytest.mark.parametrize(
    ("text", "ip"),
    [
        ("Blocked a login from 172.16.40.9.", "172.16.40.9"),
        ("Blocked a login from 172.16.40.9. Next line", "172.16.40.9"),
        ("Peer was 2001:db8:4:2::17.", "2001:db8:4:2::17"),
        ("GET http://172.16.40.9:8443/health", "172.16.40.9"),
        ("connect to [2001:db8:4:2::17]:5432 now", "2001:db8:4:2::17"),
        ("host (172.16.40.9) is down", "172.16.40.9"),
        ("client=172.16.40.9, retry", "172.16.40.9"),
        ("ends with 172.16.40.9", "172.16.40.9"),
        ("mapped ::ffff:172.16.40.9 here", "172.16.40.9"),
    ],
)
def test_ip_found_without_neighbours(fast: Masker, text: str, ip: str):
    spans = [text[f.start : f.end] for f in fast.scan(text) if f.data_class == "IP_ADDRESS"]
    assert any(ip in s and s.strip(".") == s for s in spans), spans
    assert ip not in fast.mask(text).value


@pytest.mark.parametrize(
    "text",
    [
        "upgraded to version 10.4.2.1.",
        "see 1.2.3.4.5 in the table",
        "PTR 9.40.16.172.in-addr.arpa",
        "OID 1.3.6.1.4.1.2021",
    ],
)
def test_not_an_ip(fast: Masker, text: str):
    assert not [f for f in fast.scan(text) if f.data_class == "IP_ADDRESS"]
