"""Flags generated from config dataclasses, checked flag types and output-path probes shared by the commands.

:func:`add_config_arguments` (from :mod:`lore_rag.config`, where recipes reach it too) turns the fields of a config
dataclass into a command's flags: one source for each setting's name, help, default and type.

Argparse calls a flag's ``type`` on the text given; the types here refuse values that parse but make no sense
(``--limit -1``, ``--ks 0``, ``--lr nan``) with one line naming the flag. :func:`check_output_file` and
:func:`check_output_dir` find a folder where a file is expected, or a place nothing can be written to, before any
work starts, without creating or changing anything.
"""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

from lore_rag.config import (
    add_config_arguments,
    argument_group,
    config_from_args,
    finite_float,
    non_negative_float,
    non_negative_int,
    port_number,
    positive_float,
    positive_int,
)
from lore_rag.errors import ConfigError

__all__ = [
    "add_config_arguments",
    "argument_group",
    "config_from_args",
    "check_output_dir",
    "check_output_file",
    "check_port_free",
    "finite_float",
    "non_negative_float",
    "non_negative_int",
    "port_number",
    "positive_float",
    "positive_int",
]


def _probe_folder(folder: Path, flag: str, what: str) -> None:
    """Raise unless a file can be created in ``folder`` (or its nearest existing ancestor); creates nothing lasting."""
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"{flag} {what}: {probe} is a file, not a folder")
    try:  # os.access says yes to root everywhere: only a real file tells
        with tempfile.NamedTemporaryFile(dir=probe, prefix=".lore-rag-write-probe-"):
            pass
    except OSError as exc:
        raise ConfigError(f"{flag} {what}: cannot write in {probe} ({exc.strerror or exc})") from None


def check_output_file(path: str | os.PathLike[str], flag: str) -> Path:
    """Refuse an output file path that is a folder or lies where nothing can be written; returns it as a Path.

    Raises:
        ConfigError: naming ``flag`` and the path.
    """
    file = Path(path).expanduser()
    if file.is_dir():
        raise ConfigError(f"{flag} {file}: is a folder; give the name of a file (in it, or elsewhere)")
    if file.exists() and not file.is_file():
        raise ConfigError(f"{flag} {file}: not a regular file")
    _probe_folder(file.parent if str(file.parent) else Path("."), flag, str(file))
    return file


def check_output_dir(path: str | os.PathLike[str], flag: str) -> Path:
    """Refuse an output folder path that is a file or lies where nothing can be written; returns it as a Path.

    Raises:
        ConfigError: naming ``flag`` and the path.
    """
    folder = Path(path).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{flag} {folder}: is a file, not a folder")
    _probe_folder(folder, flag, str(folder))
    return folder


def check_port_free(host: str, port: int) -> None:
    """Refuse a port something already listens on, before minutes of model loading.

    Raises:
        ConfigError: naming the port and the address.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConfigError(f"--host {host}: cannot resolve it ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            raise ConfigError(
                f"--port {port}: cannot listen on {host}:{port} ({exc.strerror}); another program uses it: "
                "pick another --port"
            ) from None
