"""Neutrino's embedded network provider: a Neutron v2.0 API server with Keystone identity on one port.

Run it with ``neutrino provider --listen 127.0.0.1:9696 --data-dir DIR [--db URL] [--no-auth]``;
clients need only ``OS_AUTH_URL=http://HOST:9696/v3``, a user and a password.

Layout: ``api/`` (one module per resource, each driven by its attribute declaration), ``ipam/``
(range rules and allocation under a per-subnet lock), ``store/`` (tables, unit of work, Alembic
migrations versioned in ``alembic_version_provider``), ``identity/`` (users, projects, signed
tokens, the Keystone routes), ``backends/`` (where writes go after the database: ``builtin``, or
``ovn``'s northbound), ``app.py`` (``bootstrap`` and ``create_app``), ``cli.py``.
"""
