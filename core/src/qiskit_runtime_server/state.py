"""Everything one running server holds, built once per app."""

from __future__ import annotations

from dataclasses import dataclass

from .catalogue import Catalogue
from .jobs.memory_store import MemoryJobStore
from .jobs.runner import JobRunner
from .jobs.sessions import SessionService
from .jobs.store import JobStore
from .plugins import PluginHost
from .settings import Settings
from .tokens import TokenIssuer


@dataclass
class ServerState:
    settings: Settings
    plugins: PluginHost
    catalogue: Catalogue
    store: JobStore
    sessions: SessionService
    runner: JobRunner
    tokens: TokenIssuer

    @classmethod
    def build(
        cls,
        settings: Settings,
        plugins: PluginHost | None = None,
        store: JobStore | None = None,
    ) -> ServerState:
        if plugins is None:
            plugins = PluginHost.load(
                entry_points=settings.load_entry_points, disabled=settings.disabled_plugins
            )
        store = store or MemoryJobStore()
        sessions = SessionService(store)
        return cls(
            settings=settings,
            plugins=plugins,
            catalogue=Catalogue(plugins),
            store=store,
            sessions=sessions,
            runner=JobRunner(store, plugins, sessions, settings.workers),
            tokens=TokenIssuer(settings.token_secret, settings.token_lifetime_seconds),
        )
