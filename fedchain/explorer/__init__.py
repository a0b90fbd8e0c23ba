"""The explorer: a local web app over a deployment's tasks, participants, transactions and blobs,
with the audit's verdict beside every item (``fedchain explorer``; ``docs/explorer.md``).

:func:`~fedchain.explorer.app.create_app` builds the ASGI app (Starlette, Jinja2 templates, a JSON
twin of every page under ``/api``) over an :class:`~fedchain.audit.AuditSource`;
:class:`~fedchain.explorer.index.ChainIndex` reads the chain incrementally, so new blocks appear
without a restart. Neither keeps anything the chain and the store do not hold.
"""

from fedchain.explorer.app import create_app
from fedchain.explorer.index import ChainIndex

__all__ = ["ChainIndex", "create_app"]
