"""Everything one running server holds, built once per app."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .auth import AccessControl, InstanceConfig, Limits
from .catalogue import Catalogue
from .database.engine import create_engine, database_url, redacted
from .database.migrate import upgrade
from .jobs.engine_process import EngineProcess
from .jobs.sessions import SessionService
from .jobs.sql_store import SqlJobStore
from .jobs.store import JobStore
from .plugins import PluginHost
from .settings import Settings
from .tokens import TokenIssuer

logger = logging.getLogger(__name__)


@dataclass
class ServerState:
    settings: Settings
    plugins: PluginHost
    catalogue: Catalogue
    store: JobStore
    sessions: SessionService
    engine: EngineProcess
    tokens: TokenIssuer
    access: AccessControl

    @classmethod
    def build(cls, settings: Settings) -> ServerState:
        """Load plugins, open the database and bring its schema up to date."""
        plugins = PluginHost.from_settings(settings)
        url = database_url(settings.data_dir, settings.database_url)
        engine = create_engine(url)
        upgrade(engine)
        logger.info("job store: %s", redacted(url))
        store = SqlJobStore(engine)
        sessions = SessionService(store, settings.session_interactive_ttl)
        tokens = TokenIssuer(settings.token_secret, settings.token_lifetime_seconds)
        access = AccessControl(
            tokens,
            settings.api_keys_file,
            default_instance=InstanceConfig(settings.instance_crn, settings.instance_name),
            default_limits=Limits(settings.max_queued_jobs, settings.max_executions),
        )
        return cls(
            settings=settings,
            plugins=plugins,
            catalogue=Catalogue(plugins),
            store=store,
            sessions=sessions,
            engine=EngineProcess(store, plugins, settings),
            tokens=tokens,
            access=access,
        )
