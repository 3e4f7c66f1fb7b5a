"""The application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from . import __version__
from .api.body_limit import BodySizeLimit
from .api.deps import get_instance
from .api.errors import install_error_handlers
from .api.openapi import install_openapi
from .api.routes import (
    backends,
    dashboard,
    discovery,
    identity,
    instances,
    jobs,
    metrics,
    server_info,
    sessions,
)
from .logs import RequestContext
from .metrics import HttpMetrics
from .settings import Settings
from .state import ServerState

logger = logging.getLogger(__name__)

RUNTIME_PREFIX = "/api/v1"


def _operation_id(route: APIRoute) -> str:
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build a server: plugins are loaded and the database migrated now; worker processes
    start with the app (its lifespan) and stop with it."""
    settings = settings or Settings()
    state = ServerState.build(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        _report_plugins(state)
        state.scheduler.start()
        try:
            yield
        finally:
            state.scheduler.stop()
            state.store.close()

    app = FastAPI(
        title="qiskit-runtime-server",
        version=__version__,
        summary="IBM Quantum's Qiskit Runtime REST API, served by local simulators.",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.state.server = state
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(HttpMetrics, metrics=state.metrics)  # counts 413s too
    app.add_middleware(RequestContext)  # outermost: every line of a request has its id
    install_error_handlers(app)
    install_openapi(app, RUNTIME_PREFIX)
    # Every runtime route needs a caller allowed to use the request's instance; routes that
    # also take InstanceDep get the same (cached) result.
    for module in (backends, jobs, sessions, instances):
        app.include_router(
            module.router, prefix=RUNTIME_PREFIX, dependencies=[Depends(get_instance)]
        )
    app.include_router(identity.router)
    app.include_router(discovery.router)
    app.include_router(server_info.router)
    app.include_router(metrics.router)
    app.include_router(dashboard.router)
    app.mount(
        "/dashboard/static",
        StaticFiles(packages=[(dashboard.STATIC_PACKAGE, "static")]),
        name="dashboard-static",
    )
    return app


def _report_plugins(state: ServerState) -> None:
    for record in state.plugins.records:
        if record.status == "failed":
            logger.error("%s failed to load: %s", record.label(), record.error)
    executors = state.plugins.executors
    if not executors:
        logger.warning(
            "No executor is installed: the catalogue is empty. Install one, for example "
            "`pip install qiskit-runtime-server-aer`."
        )
    for name, executor in executors.items():
        availability = executor.info.availability
        if availability.available:
            logger.info("executor %r (%s) is available", name, executor.plugin.label())
        else:
            logger.warning("executor %r is unavailable: %s", name, availability.reason)
    logger.info("%d backends in the catalogue", len(state.catalogue))
