"""File storage behind a small interface, with upload limits and content sniffing.

Every module that keeps files (deal documents, forum attachments, knowledge documents) uses
this. The bytes live outside the database; the database keeps the key, the size, the sniffed
type and a SHA-256.

* :class:`Storage` is the interface (``save``, ``open``, ``delete``); :class:`DirectoryStorage`
  keeps files in a directory; :func:`storage_for_app` picks a module's directory from its
  setting (e.g. ``CRM_PIPELINE_STORAGE_DIR``), by default ``<instance>/<module>-files``.
  An object store (S3, MinIO) only needs another class with the same three methods.
* :func:`read_limited` reads an upload stream in chunks and stops as soon as it passes the
  limit, so a 200 MB upload never sits in memory.
* :func:`sniff` decides the type from the first bytes, never from the file name or the
  client's Content-Type: an executable renamed ``.pdf`` is refused.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import secrets
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from flask_babel import lazy_gettext as _l
from sqlalchemy import event

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
CHUNK = 64 * 1024


class UploadError(ValueError):
    """A refused upload; ``status`` is the HTTP status to answer with (413 or 422)."""

    def __init__(self, message: str, status: int = 422, field: str = "file"):
        super().__init__(message)
        self.status = status
        self.field = field


class Storage(Protocol):
    def save(self, fileobj: BinaryIO) -> str:
        """Store the bytes; return a new opaque key."""

    def open(self, key: str) -> BinaryIO:
        """A readable binary file for ``key`` (FileNotFoundError when gone)."""

    def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""


class DirectoryStorage:
    """Files in a directory, two levels of fan-out, random keys (never user input)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if not key or any(c not in "0123456789abcdef" for c in key):
            raise FileNotFoundError(key)
        return self.root / key[:2] / key[2:4] / key

    def save(self, fileobj: BinaryIO) -> str:
        key = secrets.token_hex(16)
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".up-")
        try:
            with os.fdopen(fd, "wb") as out:
                fileobj.seek(0)
                while chunk := fileobj.read(CHUNK):
                    out.write(chunk)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return key

    def open(self, key: str) -> BinaryIO:
        return open(self._path(key), "rb")

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            pass


@dataclass
class Upload:
    """An upload read within the limit: a spooled temporary file plus what we learnt."""

    file: BinaryIO
    size: int
    sha256: str
    content_type: str
    extension: str


def read_limited(stream: BinaryIO, max_bytes: int) -> tuple[BinaryIO, int, str]:
    """Copy ``stream`` into a spooled temporary file, refusing (413) past ``max_bytes``."""
    out = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK):
        size += len(chunk)
        if size > max_bytes:
            out.close()
            raise UploadError(too_large_message(max_bytes), status=413)
        digest.update(chunk)
        out.write(chunk)
    out.seek(0)
    return out, size, digest.hexdigest()


def too_large_message(max_bytes: int) -> str:
    return _l("The file is larger than the limit of %(n)s MiB.", n=max_bytes // (1024 * 1024))


# Types allowed by default: (content type, extension).
PDF = ("application/pdf", "pdf")
PNG = ("image/png", "png")
JPEG = ("image/jpeg", "jpg")
GIF = ("image/gif", "gif")
WEBP = ("image/webp", "webp")
DOCX = ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx")
XLSX = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx")
PPTX = ("application/vnd.openxmlformats-officedocument.presentationml.presentation", "pptx")
ODF = ("application/vnd.oasis.opendocument", "odf")
OLE = ("application/vnd.ms-office", "doc")  # .doc / .xls / .ppt of older Office
TEXT = ("text/plain", "txt")
DEFAULT_ALLOWED = {t[0] for t in (PDF, PNG, JPEG, GIF, WEBP, DOCX, XLSX, PPTX, ODF, OLE, TEXT)}

EXECUTABLE_MAGIC = (
    b"MZ",
    b"\x7fELF",
    b"\xfe\xed\xfa",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",
    b"#!",
)


def sniff(head: bytes, fileobj: BinaryIO | None = None) -> tuple[str, str] | None:
    """The (content type, extension) of a file from its first bytes; None when unknown or
    executable. ``fileobj`` lets ZIP containers be told apart (docx / xlsx / pptx)."""
    if head.startswith(EXECUTABLE_MAGIC):
        return None
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return OLE
    if head.startswith(b"PK\x03\x04") and fileobj is not None:
        try:
            fileobj.seek(0)
            with zipfile.ZipFile(fileobj) as z:
                names = set(z.namelist())
                if "mimetype" in names and z.read("mimetype").startswith(
                    b"application/vnd.oasis.opendocument"
                ):
                    return ODF
                if "[Content_Types].xml" in names:
                    if any(n.startswith("word/") for n in names):
                        return DOCX
                    if any(n.startswith("xl/") for n in names):
                        return XLSX
                    if any(n.startswith("ppt/") for n in names):
                        return PPTX
        except (zipfile.BadZipFile, OSError, KeyError):
            return None
        finally:
            fileobj.seek(0)
        return None
    if head and b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
                return None
        return TEXT
    return None


def accept_upload(
    stream: BinaryIO, max_bytes: int = DEFAULT_MAX_BYTES, allowed: set[str] | None = None
) -> Upload:
    """Read an upload within the limit and check its type by content."""
    allowed = DEFAULT_ALLOWED if allowed is None else allowed
    file, size, sha = read_limited(stream, max_bytes)
    if size == 0:
        file.close()
        raise UploadError(_l("The file is empty."))
    head = file.read(4096)
    file.seek(0)
    kind = sniff(head, file)
    if kind is None or kind[0] not in allowed:
        file.close()
        raise UploadError(
            _l("This type of file is not accepted (allowed: PDF, Office documents, images, text).")
        )
    return Upload(file=file, size=size, sha256=sha, content_type=kind[0], extension=kind[1])


# --- Files that follow the database transaction ----------------------------------------
#
# The bytes are written before the row that names them is committed, and a file must only
# disappear once the row is gone for good. These two helpers tie a save or a delete to the
# session's transaction, so a failed request leaves neither an orphan file nor a row pointing
# at a missing one.


def save_in_transaction(session, store: Storage, fileobj: BinaryIO) -> str:
    """``store.save(fileobj)``, removed again unless the session's transaction commits."""
    if not session.in_transaction():
        session.begin()  # so that a rollback (or close) before any SQL still ends "this" one
    key = store.save(fileobj)
    _pending(session)["saved"].append((store, key))
    return key


def delete_after_commit(session, store: Storage, key: str) -> None:
    """Remove ``key`` from ``store`` once the session's transaction commits (a rolled-back
    deletion keeps the file, since the row naming it is still there)."""
    if not session.in_transaction():
        session.begin()
    _pending(session)["deleted"].append((store, key))


def _pending(session) -> dict:
    state = session.info.get("crm_storage")
    if state is None:
        state = session.info["crm_storage"] = {"saved": [], "deleted": []}
        event.listen(session, "after_commit", _after_commit)
        event.listen(session, "after_transaction_end", _after_transaction_end)
    return state


def _after_commit(session) -> None:
    state = session.info["crm_storage"]
    state["saved"].clear()  # committed: the rows name these files now
    deleted, state["deleted"] = state["deleted"], []
    _remove(deleted)


def _after_transaction_end(session, transaction) -> None:
    if transaction.parent is not None:  # a savepoint or a nested block: the outer one decides
        return
    # Whatever is still listed was not committed (rolled back or closed): saves are undone,
    # deletions forgotten.
    state = session.info["crm_storage"]
    state["deleted"].clear()
    saved, state["saved"] = state["saved"], []
    _remove(saved)


def _remove(entries) -> None:
    for store, key in entries:
        try:
            store.delete(key)
        except OSError:  # only wasted space: the rows no longer name it
            log.warning("could not remove stored file %s", key)


def storage_for_app(app, setting: str, default_dirname: str) -> DirectoryStorage:
    """The directory storage configured by ``setting`` (app config or environment), by
    default ``<instance>/<default_dirname>``."""
    root = app.config.get(setting) or os.environ.get(setting)
    if not root:
        root = os.path.join(app.instance_path, default_dirname)
    return DirectoryStorage(root)


def bytes_io(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)
