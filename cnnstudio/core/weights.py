"""Where a network's weights come from: the three sources, and the official ImageNet files.

A weights source is one of:

- ``"imagenet"``: the official Keras file, looked up by its exact name first in
  :func:`cnnstudio.core.paths.weights_dir` (files the user imported) and then in the Keras
  cache (``$KERAS_HOME/models``). If it is in neither, it is downloaded when the machine is
  online; offline, :class:`ResourceMissingError` says which file, its size, where it was
  looked for and where a connected machine can download it. We never let Keras download
  on its own: its download has no timeout and would hang an offline machine.
- ``"random"``: an untrained network (``weights=None``), offered openly.
- a path to a ``.weights.h5`` (Keras 3) or ``.h5`` (legacy Keras) file for the architecture
  (read by :mod:`cnnstudio.core.weights_files`).

This module knows the files of a network through :class:`OfficialWeights`, which
:class:`cnnstudio.core.backbones.BackboneInfo` provides: the registry builds its networks
with this module's help, so this module takes the network's facts as an argument rather
than importing the registry. Importing it loads no TensorFlow.
"""

from __future__ import annotations

import hashlib
import os
import queue
import socket
import tempfile
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Protocol

from cnnstudio.core import paths
from cnnstudio.core.errors import Remedy, ResourceMissingError
from cnnstudio.core.events import DownloadProgress
from cnnstudio.core.files import megabytes, new_file_mode

#: set to 1 to forbid any download attempt (tests, air-gapped installs)
OFFLINE_ENV = "CNNSTUDIO_OFFLINE"

#: seconds to wait for the connectivity probe before calling the machine offline
CONNECT_TIMEOUT_S = 3.0
#: seconds a started download may stall before it is given up
READ_TIMEOUT_S = 30.0

DownloadCallback = Callable[[int, int], None]


class OfficialWeights(Protocol):
    """What this module needs to know about a network's official ImageNet weights files
    (:class:`cnnstudio.core.backbones.BackboneInfo` is one)."""

    name: str
    label: str

    def weights_file(self, include_top: bool) -> str: ...
    def weights_size(self, include_top: bool) -> int: ...
    def weights_url(self, include_top: bool) -> str: ...
    def weights_md5(self, include_top: bool) -> str | None: ...


# ----------------------------------------------------------------------------------- sources


def normalize_weights(weights: str | os.PathLike) -> str:
    """``"imagenet"``, ``"random"`` or the path as given (synonyms and case folded)."""
    text = os.fspath(weights).strip()
    lowered = text.lower()
    if lowered in ("imagenet", "pretrained"):
        return "imagenet"
    if lowered in ("random", "untrained", "none"):
        return "random"
    return text


def is_untrained(weights: str | os.PathLike) -> bool:
    """True for the "random" (untrained) weight source."""
    return normalize_weights(weights) == "random"


def weights_label(weights: str | os.PathLike) -> str:
    """Human label of a weight source: "ImageNet", "untrained (random)" or "custom weights
    x.h5": a file named for a job is never taken for the official ImageNet weights (only
    "imagenet" is: the file found by its official name, downloaded or imported after its
    checksum matched)."""
    normalized = normalize_weights(weights)
    if normalized == "imagenet":
        return "ImageNet"
    if normalized == "random":
        return "untrained (random)"
    return f"custom weights {Path(normalized).name}"


# ------------------------------------------------------------------ ImageNet files on disk


def weights_search_dirs() -> tuple[Path, Path]:
    """Where "imagenet" weight files are looked for, in order."""
    return paths.weights_dir(), paths.keras_cache_dir() / "models"


def candidate_names(file_name: str) -> tuple[str, str]:
    """The names an official file may have here: as Keras names it, and with the Keras 3
    suffix, under which an imported Keras 3 format file is kept (Keras picks its loader
    by suffix)."""
    return file_name, file_name[: -len(".h5")] + ".weights.h5"


def find_imagenet_weights(network: OfficialWeights, include_top: bool = False) -> Path | None:
    """The ImageNet weight file of ``network`` if it is on this machine, else None."""
    for folder in weights_search_dirs():
        for file_name in candidate_names(network.weights_file(include_top)):
            candidate = folder / file_name
            if candidate.is_file() and candidate.stat().st_size > 0:
                return candidate
    return None


def _missing_weights_error(
    network: OfficialWeights, include_top: bool, reason: str
) -> ResourceMissingError:
    first, second = weights_search_dirs()
    file_name = network.weights_file(include_top)
    size = network.weights_size(include_top)
    url = network.weights_url(include_top)
    return ResourceMissingError(
        f"{network.label} ImageNet weights are not on this machine and cannot be downloaded "
        f"({reason}): need {file_name} ({megabytes(size)}), looked in {first} and {second}; "
        f"a connected machine can download it from {url}",
        remedy=Remedy.SUPPLY_WEIGHTS,
        backbone=network.name,
        file_name=file_name,
        size=size,
        url=url,
        searched=[str(first), str(second)],
    )


# ---------------------------------------------------------------------------------- download


def downloads_allowed(allow_download: bool = True) -> bool:
    """False when the caller or ``CNNSTUDIO_OFFLINE=1`` forbids network access."""
    offline = os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on")
    return allow_download and not offline


def _is_online(host: str, port: int = 443, timeout: float = CONNECT_TIMEOUT_S) -> bool:
    """A quick connectivity probe. Name resolution has no timeout of its own, so the probe
    runs on a daemon thread and we stop waiting after ``timeout`` seconds."""
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, name="cnnstudio-online-probe", daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return bool(result and result[0])


def _download(
    url: str,
    destination: Path,
    md5: str | None,
    on_download: DownloadCallback | None,
) -> Path:
    """Stream ``url`` to ``destination`` (atomically: a partial file is never left under the
    final name), reporting ``on_download(received_bytes, total_bytes)`` per chunk."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.md5(usedforsecurity=False)
    handle, temp_name = tempfile.mkstemp(dir=destination.parent, suffix=".part")
    try:
        with (
            os.fdopen(handle, "wb") as out,
            urllib.request.urlopen(url, timeout=READ_TIMEOUT_S) as response,
        ):
            total = int(response.headers.get("Content-Length") or 0)
            received = 0
            while True:
                chunk = response.read(1 << 20)
                if not chunk:
                    break
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                if on_download is not None:
                    on_download(received, total or received)
        if total and received != total:
            raise OSError(f"download ended after {received} of {total} bytes")
        if md5 and digest.hexdigest() != md5:
            raise OSError("downloaded file is damaged (checksum mismatch)")
        os.chmod(temp_name, new_file_mode())  # mkstemp's 0600 is for the partial file only
        os.replace(temp_name, destination)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return destination


def ensure_imagenet_weights(
    network: OfficialWeights,
    include_top: bool = False,
    allow_download: bool = True,
    on_download: DownloadCallback | None = None,
) -> Path:
    """Path of the ImageNet weight file, downloading it into the Keras cache if needed and
    allowed; :class:`ResourceMissingError` (``remedy=SUPPLY_WEIGHTS``) when it cannot be
    had."""
    found = find_imagenet_weights(network, include_top)
    if found is not None:
        return found
    if not downloads_allowed(allow_download):
        raise _missing_weights_error(network, include_top, "offline mode")
    url = network.weights_url(include_top)
    host = urllib.parse.urlsplit(url).hostname or ""
    if not _is_online(host):
        raise _missing_weights_error(network, include_top, f"no connection to {host}")
    destination = weights_search_dirs()[1] / network.weights_file(include_top)
    try:
        return _download(url, destination, network.weights_md5(include_top), on_download)
    except OSError as error:  # URLError, timeouts, short or damaged downloads
        raise _missing_weights_error(network, include_top, f"download failed: {error}") from error


class _DownloadCancelled(Exception):
    """The job that wanted the file was stopped: abandon the download."""


def ensure_weights_events(
    network: OfficialWeights,
    weights: str | os.PathLike = "imagenet",
    include_top: bool = False,
    allow_download: bool = True,
) -> Generator[DownloadProgress, None, Path | None]:
    """Make sure ``weights`` for ``network`` are on this machine, as a job step.

    For ``"imagenet"`` weights that are not here yet, the download runs on a helper thread
    and this generator yields a :class:`DownloadProgress` per chunk, so a job can ``yield
    from`` it and its consumer (window or terminal) shows the download. Closing the
    generator (Stop) abandons the download at its next chunk; no partial file is left.
    Other sources, or weights already here, yield nothing. Returns the file (None for
    "random"); ResourceMissingError as :func:`ensure_imagenet_weights`."""
    normalized = normalize_weights(weights)
    if normalized != "imagenet":
        return None
    found = find_imagenet_weights(network, include_top)
    if found is not None:
        return found
    file_name = network.weights_file(include_top)
    # one slot: the download runs at most one chunk ahead of the consumer, so a stopped
    # job abandons it promptly instead of finishing it in the background
    events: queue.Queue = queue.Queue(maxsize=1)
    cancelled = threading.Event()

    def put(item: object) -> None:
        while not cancelled.is_set():
            try:
                events.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        raise _DownloadCancelled

    def report(received: int, total: int) -> None:
        put(DownloadProgress(file_name, received, total))

    def fetch() -> None:
        try:
            path = ensure_imagenet_weights(network, include_top, allow_download, report)
        except _DownloadCancelled:
            return
        except BaseException as error:  # noqa: BLE001 - handed to the job's thread
            outcome: tuple[str, object] = ("error", error)
        else:
            outcome = ("done", path)
        try:
            put(outcome)
        except _DownloadCancelled:
            pass

    thread = threading.Thread(target=fetch, name=f"cnnstudio-download-{network.name}", daemon=True)
    thread.start()
    try:
        while True:
            item = events.get()
            if isinstance(item, DownloadProgress):
                yield item
                continue
            kind, value = item
            if kind == "error":
                raise value  # type: ignore[misc]
            return value  # type: ignore[return-value]
    finally:
        cancelled.set()
        # the helper sees the flag at its next chunk (or put) and removes its partial file
        thread.join(timeout=2.0)
