"""Everything one running server holds, built once per app."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .auth import AccessControl, InstanceConfig, Limits
from .catalogue import Catalogue, Reach
from .database.connection import database_url, open_database, redacted
from .database.migrate import upgrade
from .jobs.scheduler_process import SchedulerProcess
from .jobs.sessions import SessionService
from .jobs.sql_store import SqlJobStore
from .jobs.store import JobStore
from .metrics import ServerMetrics, count_database_errors
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
    scheduler: SchedulerProcess
    tokens: TokenIssuer
    access: AccessControl
    metrics: ServerMetrics

    @classmethod
    def build(cls, settings: Settings) -> ServerState:
        """Load plugins, open the database and bring its schema up to date."""
        plugins = PluginHost.from_settings(settings)
        default_executor = plugins.default_executor(settings.default_executor)
        url = database_url(settings.data_dir, settings.database_url)
        database = open_database(url)
        upgrade(database)
        logger.info("job store: %s", redacted(url))
        store = SqlJobStore(database)
        sessions = SessionService(store, settings.session_interactive_ttl)
        tokens = TokenIssuer(settings.token_secret, settings.token_lifetime_seconds)
        access = AccessControl(
            tokens,
            settings.api_keys_file,
            default_instance=InstanceConfig(settings.instance_crn, settings.instance_name),
            default_limits=Limits(settings.max_queued_jobs, settings.max_executions),
        )
        reach = Reach()  # what the schedulers sharing the database run, read by the scheduler
        scheduler = SchedulerProcess(store, plugins, settings, reach)
        metrics = ServerMetrics(store, plugins, scheduler.workers_alive)
        scheduler.on_event = metrics.apply
        store.listen(metrics)
        count_database_errors(
            database, lambda error: metrics.database_errors.labels("api", error).inc()
        )
        return cls(
            settings=settings,
            plugins=plugins,
            catalogue=Catalogue(plugins, reach, default_executor),
            store=store,
            sessions=sessions,
            scheduler=scheduler,
            tokens=tokens,
            access=access,
            metrics=metrics,
        )
