"""What runs the jobs the scheduler claims: worker processes here, or actors on a Ray cluster.

The scheduler (``jobs/scheduler.py``) decides which job runs next and records every change in
the store; a :class:`~.base.Dispatcher` owns the workers that run them. ``local`` (the default,
nothing to install) starts worker processes on this host; ``ray`` keeps executor actors on the
nodes of a Ray cluster (``pip install 'qiskit-runtime-server[ray]'``).
"""

from __future__ import annotations

from ...plugins import PluginHost
from ...settings import Settings
from .base import Dispatcher


def make_dispatcher(plugins: PluginHost, settings: Settings) -> Dispatcher:
    """The dispatcher ``settings.dispatcher`` names."""
    if settings.dispatcher == "ray":
        from .on_ray import RayDispatcher  # Ray is an optional extra: imported only here

        return RayDispatcher(plugins, settings)
    from .local import LocalDispatcher

    return LocalDispatcher(plugins, settings)
