"""The builtin backend: the provider's database is all there is; host agents read it over the API."""

from __future__ import annotations

from collections.abc import Sequence


class BuiltinBackend:
    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def changed(self, collection: str, resource_ids: Sequence[str]) -> None:
        pass
