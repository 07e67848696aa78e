"""The platform's key never reaches a caller, even split across the chunks of a stream.

Issue 13, medium item: "a platform key split across two stream chunks escapes redaction". The
hostile vendor echoes the platform's OpenAI key in an SSE stream, cut in two (and byte by byte),
each piece written on its own so the gateway reads them apart.
"""

from __future__ import annotations

import httpx
import pytest

from tests.gateway.conftest import OPENAI_KEY, make_account, make_key
from tests.security.gateway_fixtures import HostileGateway

KEY = OPENAI_KEY.encode()
EVENT = b'data: {"choices":[{"delta":{"content":"your key is ' + KEY + b' ok"}}]}\n\n'
START = EVENT.index(KEY)


def _cut_in_two() -> list[bytes]:
    middle = START + len(KEY) // 2
    return [EVENT[:middle], EVENT[middle:], b"data: [DONE]\n\n"]


def _byte_by_byte() -> list[bytes]:
    return [EVENT[:START], *(bytes([b]) for b in KEY), EVENT[START + len(KEY) :], b"data: [DONE]\n\n"]


def _ends_with_a_partial_key() -> list[bytes]:
    return [EVENT, b"data: " + KEY[:20]]  # the stream ends inside the key


@pytest.mark.parametrize(
    "chunks", [_cut_in_two(), _byte_by_byte(), _ends_with_a_partial_key()], ids=["halves", "bytes", "tail"]
)
def test_a_key_split_across_stream_chunks_is_redacted(
    hostile_gateway: HostileGateway, chunks: list[bytes]
) -> None:
    gw = hostile_gateway
    key = make_key(gw.db, make_account(gw.db))
    gw.vendor.chunks = chunks
    received = []
    with httpx.stream(
        "POST",
        f"{gw.url}/api/proxy/openai/v1/chat/completions",
        json={"model": "split-stream", "messages": [{"role": "user", "content": "hi"}], "stream": True},
        headers={"Authorization": f"Bearer {key}"},
    ) as response:
        assert response.status_code == 200
        received = list(response.iter_raw())
    body = b"".join(received)
    assert KEY not in body
    for size in (8, 12, 16):  # no long piece of it either
        assert not any(KEY[i : i + size] in body for i in range(len(KEY) - size + 1))
    assert b"[redacted]" in body
    if chunks[-1] == b"data: [DONE]\n\n":
        assert body == EVENT.replace(KEY, b"[redacted]") + b"data: [DONE]\n\n"  # the rest unchanged
