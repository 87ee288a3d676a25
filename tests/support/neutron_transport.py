"""A requests transport adapter that answers in-process: the seam where a unit test of
``neutrino.neutron_client`` stands in for Keystone and Neutron without a socket.

``CannedAdapter(handler)`` calls ``handler(call)`` for every request the client sends (Keystone's and
Neutron's) and answers with the :class:`~tests.support.canned.Canned` it returns; a handler that raises a
``requests`` error (``requests.ConnectionError``) plays a provider that cannot be reached.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from tests.support.canned import Canned, encoded


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: Any  # the decoded JSON, or None

    @property
    def token(self) -> str | None:
        return self.headers.get("X-Auth-Token")


Handler = Callable[[Call], Canned]


class CannedAdapter(BaseAdapter):
    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self.handler = handler
        self.calls: list[Call] = []

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        url = str(request.url)
        parts = urlsplit(url)
        raw = request.body
        body = json.loads(raw) if isinstance(raw, str | bytes) and raw else None
        call = Call(
            method=str(request.method),
            url=url,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k: v if isinstance(v, str) else v.decode() for k, v in request.headers.items()},
            body=body,
        )
        self.calls.append(call)
        reply = self.handler(call)
        response = requests.Response()
        response.status_code = reply.status
        response._content = encoded(reply)
        response.headers = CaseInsensitiveDict({"Content-Type": reply.content_type, **reply.headers})
        response.url = url
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass
