"""Prepare the embedded Celery set-up on a fresh machine: the folders it reads and writes.

kombu's filesystem transport and Celery's ``file://`` result backend both expect their folders to
exist already. The transport also keeps its exchange bindings in a ``control_folder`` that defaults
to ``./control`` relative to the current directory; a web process and a worker started from
different directories would then not share bindings (and the repository fills with stray folders),
so the control folder is pinned next to the queue folder unless the settings name one.

`ensure_broker_folders` runs when the Celery app reads its configuration (see mlgov/celery.py),
so the web process, the worker and /healthz all create the folders before their first use. With
Redis or RabbitMQ configured it does nothing.
"""

from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

FILESYSTEM_SCHEME = "filesystem://"
_FOLDER_OPTIONS = ("data_folder_in", "data_folder_out", "processed_folder", "control_folder")


def _result_folder(result_backend: str) -> Path | None:
    """The folder of a ``file://`` result backend (Celery's own parsing rules), else None."""
    if result_backend.startswith("file://localhost/"):
        return Path(result_backend.removeprefix("file://localhost"))
    if result_backend.startswith("file://"):
        return Path(result_backend.removeprefix("file://"))
    return None


def broker_folders(conf: Mapping[str, Any]) -> list[Path]:
    """The folders the configured broker and result backend need; empty for network brokers.

    Pins the filesystem transport's control folder next to its queue folder when unset (this
    mutates ``broker_transport_options`` in place, before any connection reads it).
    """
    folders: list[Path] = []
    if str(conf.get("broker_url") or "").startswith(FILESYSTEM_SCHEME):
        options = conf.get("broker_transport_options")
        if isinstance(options, MutableMapping):
            queue_folder = options.get("data_folder_in")
            if queue_folder and not options.get("control_folder"):
                options["control_folder"] = str(Path(queue_folder).parent / "control")
            folders.extend(Path(options[key]) for key in _FOLDER_OPTIONS if options.get(key))
    result_folder = _result_folder(str(conf.get("result_backend") or ""))
    if result_folder is not None:
        folders.append(result_folder)
    return folders


def ensure_broker_folders(conf: Mapping[str, Any]) -> list[Path]:
    """Create the folders of the embedded broker and result backend; returns them."""
    folders = broker_folders(conf)
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    return folders
