"""Running the app under uvicorn: the one place that knows uvicorn's options."""

from __future__ import annotations

import math
import os
import shutil
import tempfile

from moderation.service.logs import log_config
from moderation.service.settings import SETTINGS_ENV, Settings

FACTORY = "moderation.service.app:create_app_from_env"


def serve(settings: Settings) -> None:
    """Serve until SIGTERM/SIGINT; uvicorn then stops accepting, lets in-flight requests finish, exits 0.

    Workers are separate processes (each loads the model and batches on its own), so the
    settings travel to them as JSON in the environment.
    """
    import uvicorn

    settings.validate()
    os.environ[SETTINGS_ENV] = settings.to_json()
    own_dir = None
    if settings.workers > 1:  # one scrape must sum every worker: prometheus_client's multiprocess mode
        from moderation.service.metrics import MULTIPROC_ENV, prepare_multiprocess_dir

        directory = os.environ.get(MULTIPROC_ENV)
        if not directory:
            directory = own_dir = tempfile.mkdtemp(prefix="moderation-metrics-")
        prepare_multiprocess_dir(directory)  # counters start at zero, not at a previous run's totals
        os.environ[MULTIPROC_ENV] = directory
    try:
        uvicorn.run(
            FACTORY,
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_config=log_config(settings.log_level),
            access_log=False,  # our middleware logs requests without the query string (?key=)
            server_header=False,
            # A request may queue for timeout_s, so that is how long draining may need.
            timeout_graceful_shutdown=math.ceil(settings.timeout_s) + 5,
        )
    finally:
        if own_dir:
            shutil.rmtree(own_dir, ignore_errors=True)
