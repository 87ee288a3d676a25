"""Serve `neutrino provider` over HTTPS (it has no TLS option of its own): bootstrap it as the CLI does,
then hand its app to uvicorn with a certificate.

    python tests/e2e/providers/tls_provider.py HOST:PORT DATA_DIR CERT_CHAIN KEY
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(listen: str, data_dir: str, certfile: str, keyfile: str) -> None:
    import uvicorn

    from neutrino.provider.app import bootstrap, create_app
    from neutrino.provider.settings import ProviderSettings

    host, _, port = listen.rpartition(":")
    settings = ProviderSettings(listen_host=host, listen_port=int(port), data_dir=Path(data_dir))
    bootstrap(settings)
    uvicorn.run(
        create_app(settings),
        host=host,
        port=int(port),
        log_level="warning",
        access_log=False,
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
    )


if __name__ == "__main__":
    main(*sys.argv[1:5])
