"""Connecting the unmodified ``qiskit-ibm-runtime`` client to a server.

The client needs three things that its constructor cannot all take: the runtime base URL (the
public ``url_resolver`` argument), the IAM token endpoint (``IAM_URL``), and IBM Cloud's
instance discovery (``GLOBAL_SEARCH_URL`` and ``GLOBAL_CATALOG_URL``, read by ibm-cloud-sdk-core).
The server serves all of them, so nothing in the client is patched.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from qiskit_ibm_runtime import QiskitRuntimeService

#: Any non-empty token works in the open local mode.
LOCAL_TOKEN = "local"


def _base(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"expected the server's URL, like http://127.0.0.1:8000, got {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def client_environment(url: str) -> dict[str, str]:
    """The environment variables the client reads, for a server at ``url``."""
    base = _base(url)
    return {
        "IAM_URL": base,
        "GLOBAL_SEARCH_URL": base,
        "GLOBAL_CATALOG_URL": f"{base}/catalog",
    }


def saved_account_url(url: str) -> str:
    """A ``url`` the client uses verbatim: it contains "experimental" (here as the URL's
    user-info part, which the client ignores), so no ``url_resolver`` is needed."""
    parts = urlsplit(_base(url))
    return f"{parts.scheme}://experimental@{parts.netloc}/api/v1"


def connect(
    url: str,
    token: str = LOCAL_TOKEN,
    instance: str | None = None,
    channel: str = "ibm_quantum_platform",
    **kwargs: Any,
) -> QiskitRuntimeService:
    """A real ``QiskitRuntimeService`` talking to the server at ``url``.

    Sets the three environment variables of :func:`client_environment` for this process (the
    client reads them, there is no argument for them) and passes the runtime URL through the
    public ``url_resolver`` argument. ``instance`` may be a CRN, an instance name, or None to let
    the client pick the token's instance.
    """
    from qiskit_ibm_runtime import QiskitRuntimeService

    os.environ.update(client_environment(url))
    api = f"{_base(url)}/api/v1"

    def resolve(*_args: Any, **_kwargs: Any) -> str:
        return api

    return QiskitRuntimeService(
        channel=channel,
        token=token,
        instance=instance,
        url=_base(url),
        url_resolver=resolve,
        **kwargs,
    )
