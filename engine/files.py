"""Private files: what cogpipe writes about conversations is readable by its user only.

Session databases and trace files hold user text and model output. Folders that
cogpipe creates for them are mode 0700 and the files 0600. The modes are set
explicitly (``os.open`` with a mode, then ``chmod``) instead of through the process
umask: the umask is process-wide state shared with every thread and library, and
changing it around one ``open`` would race with them.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

__all__ = ["FILE_MODE", "FOLDER_MODE", "private_file", "private_folder"]

log = logging.getLogger(__name__)

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def private_folder(path: str | Path, what: str = "folder") -> Path:
    """Create ``path`` and its missing parents with mode 0700.

    A folder that already exists is left as it is (it may be a shared one the operator
    chose, such as a home folder), but a warning says so when others can read it.

    Args:
        path: the folder.
        what: what the folder holds, for the warning (``trace folder`` ...).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        OSError: a folder cannot be created.
    """
    path = Path(path)
    missing = []
    parent = path
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=FOLDER_MODE)
        except FileExistsError:  # created meanwhile by someone else: leave it
            continue
        os.chmod(folder, FOLDER_MODE)  # the umask may have removed bits mkdir asked for
    if not missing:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            log.warning(
                "%s %s is open to other users (mode %04o); its files are %04o, but their "
                "names are visible: run 'chmod 700 %s' to close it",
                what,
                path,
                mode,
                FILE_MODE,
                path,
            )
    return path


def private_file(path: str | Path) -> Path:
    """Create ``path`` empty with mode 0600 when it is missing, else set its mode to 0600
    (its content is kept).

    Raises:
        OSError: the file cannot be created or its mode changed.
    """
    path = Path(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path
