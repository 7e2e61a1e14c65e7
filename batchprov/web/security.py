"""The web app's defences: Host and Origin checks, login, CSRF tokens, upload limits and
sniffing, safe headers.

The Host allow-list stops DNS rebinding: a web site the user visits could otherwise point its
own name at 127.0.0.1 and drive the page, token and all. The Origin check refuses a POST sent
from another site's page.

Everything here is plain ASGI or plain functions so that it can be tested without a browser.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path, PurePosixPath, PureWindowsPath
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from batchprov.read.delimited import decode_text
from batchprov.read.head import EXCEL_SUFFIXES, SUPPORTED_SUFFIXES

CSRF_COOKIE = "batchprov_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
#: Paths that answer without a login, so that a monitor can probe the server.
OPEN_PATHS = frozenset({"/healthz"})
#: Room for the multipart envelope and the small form fields around the file itself.
FORM_OVERHEAD = 64 * 1024

ALLOWED_SUFFIXES = SUPPORTED_SUFFIXES

_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'; object-src 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    # same-origin: other sites get no referrer, while the page's own form posts keep their
    # Origin (under no-referrer a browser sends "Origin: null", which the Origin check refuses).
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}


#: Methods that change nothing: no Origin check.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def allowed_hosts(host: str, port: int, extra: Iterable[str] = ()) -> frozenset[str]:
    """The ``Host`` values the server answers: the bound host and port, its loopback forms
    when it listens on loopback or everywhere, and each ``extra`` name (with or without port).
    """
    bound = f"[{host}]" if ":" in host and not host.startswith("[") else host
    names = {bound.lower()}
    if bound in (*LOOPBACK_NAMES, "[::]", "0.0.0.0", "::1"):
        names.update(LOOPBACK_NAMES)
    # Port 0 lets the system choose: any port of these names is then this server's.
    shown_port = str(port) if port else "*"
    found = {f"{name}:{shown_port}" for name in names}
    if port == 80:
        found |= names
    for item in extra:
        item = item.strip().lower()
        if not item:
            continue
        found.add(item)
        if not _has_port(item):
            found.add(f"{item}:{shown_port}")
    return frozenset(found)


def host_allowed(host_header: str | None, allowed: frozenset[str]) -> bool:
    """True when the request's ``Host`` is one of ``allowed`` (``name:*``: any port)."""
    host = (host_header or "").strip().lower()
    if host in allowed:
        return True
    name, colon, port = host.rpartition(":")
    return bool(colon) and port.isdigit() and f"{name}:*" in allowed


def origin_allowed(headers: Headers, allowed: frozenset[str] | None) -> bool:
    """True unless the request names a foreign origin (``Origin``, else ``Referer``).

    Without an allow-list the request's own ``Host`` is the only origin accepted.
    """
    source = headers.get("origin")
    if source is None:
        source = headers.get("referer")
        if source is None:
            return True  # a non-browser client: the CSRF token still protects the form
    try:
        netloc = urlsplit(source.strip()).netloc.lower()
    except ValueError:
        return False
    if not netloc:  # "null" (a sandboxed frame, a file:// page) or garbage
        return False
    if allowed is None:
        return netloc == (headers.get("host") or "").strip().lower()
    return host_allowed(netloc, allowed)


def _has_port(host: str) -> bool:
    return bool(re.search(r":\d+$", host)) and not host.endswith("]")


class UploadRejected(ValueError):
    """An uploaded file is not what its name says; the message is shown to the user."""


class UploadTooLarge(Exception):
    """The request body is larger than the upload limit."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """The one user:password pair the server accepts."""

    user: str
    password: str

    @classmethod
    def parse(cls, text: str) -> Credentials:
        """`user:password` → Credentials; the password may itself contain colons."""
        user, sep, password = text.partition(":")
        if not sep or not user or not password:
            raise ValueError("expected user:password")
        return cls(user, password)

    def accepts(self, header: str | None) -> bool:
        """True when an `Authorization: Basic …` header carries these credentials."""
        if not header or not header.lower().startswith("basic "):
            return False
        try:
            given = base64.b64decode(header[6:].strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        expected = f"{self.user}:{self.password}".encode()
        # Constant time, so that the response time does not leak how much matched.
        return hmac.compare_digest(given, expected)


def csrf_token(request: Request) -> str:
    """The CSRF token of this browser (set by `SecurityMiddleware`)."""
    token = request.scope.get("state", {}).get("csrf")
    return token if isinstance(token, str) else ""


def csrf_ok(request: Request, submitted: object) -> bool:
    """Double-submit check: the form's token must equal the cookie's, and be non-empty."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not isinstance(submitted, str) or not submitted:
        submitted = request.headers.get(CSRF_HEADER, "")
    if not cookie or not submitted:
        return False
    return hmac.compare_digest(cookie.encode(), submitted.encode())


class SecurityMiddleware:
    """Login, CSRF cookie, upload size limit and security headers for every response."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        credentials: Credentials | None,
        max_body: int,
        too_large: ASGIApp,
        unauthorized: ASGIApp,
        hosts: frozenset[str] | None = None,
    ) -> None:
        self.app = app
        #: The Host values answered; None answers any (the serve command always sets it).
        self.hosts = hosts
        self.credentials = credentials
        self.max_body = max_body
        self.too_large = too_large
        self.unauthorized = unauthorized

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if self.hosts is not None and not host_allowed(headers.get("host"), self.hosts):
            await _plain(400, "Unknown host: this server answers only its own address.")(
                scope, receive, send
            )
            return
        if scope["method"] not in SAFE_METHODS and not origin_allowed(headers, self.hosts):
            await _plain(403, "Refused: this request comes from another site.")(
                scope, receive, send
            )
            return
        cookie = _cookie(headers.get("cookie", ""), CSRF_COOKIE)
        token = cookie if _TOKEN_RE.fullmatch(cookie) else secrets.token_urlsafe(32)
        scope.setdefault("state", {})["csrf"] = token
        send = _with_headers(send, None if cookie == token else token)
        if self._needs_login(scope, headers):
            await self.unauthorized(scope, receive, send)
            return
        if _declared_length(headers) > self.max_body:
            await self.too_large(scope, receive, send)
            return
        await self._limited(scope, receive, send)

    def _needs_login(self, scope: Scope, headers: Headers) -> bool:
        if self.credentials is None or scope["path"] in OPEN_PATHS:
            return False
        return not self.credentials.accepts(headers.get("authorization"))

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app, answering 413 if the body turns out larger than declared."""
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body:
                raise UploadTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except UploadTooLarge:
            if started:
                raise
            await self.too_large(scope, receive, send)


_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{32,64}")


def _plain(status: int, text: str) -> ASGIApp:
    return PlainTextResponse(text, status_code=status, headers=SECURITY_HEADERS)


def _cookie(header: str, name: str) -> str:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # a malformed Cookie header is simply ignored
        return ""
    morsel = jar.get(name)
    return morsel.value if morsel else ""


def _declared_length(headers: Headers) -> int:
    try:
        return int(headers.get("content-length", "0"))
    except ValueError:
        return 0


def _with_headers(send: Send, new_token: str | None) -> Send:
    """Wrap `send` to add the security headers (and a fresh CSRF cookie) to the response."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            for key, value in SECURITY_HEADERS.items():
                headers.setdefault(key, value)
            # Only pages carry the form field; a cookie set by a parallel request for a style
            # sheet could otherwise replace the one the page's forms were rendered with.
            if new_token and headers.get("content-type", "").startswith("text/html"):
                headers.append(
                    "set-cookie",
                    f"{CSRF_COOKIE}={new_token}; Path=/; HttpOnly; SameSite=Strict",
                )
        await send(message)

    return wrapped


# --- uploads ---------------------------------------------------------------------------------


def display_name(raw: str | None) -> str:
    """The uploaded file's own name, for display only: no folders, no control characters."""
    name = PureWindowsPath(PurePosixPath(raw or "").name).name
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:200] or "upload"


def suffix_of(name: str) -> str:
    """The lower-case extension of a display name ('' when there is none)."""
    return PurePosixPath(name).suffix.lower()


def sniff_upload(path: Path, suffix: str, shown_as: str) -> str:
    """Check that the stored file really is what its extension says; return its kind.

    The kind (`xlsx`, `xlsm`, `xls`, `csv`, `tsv`, `txt`) decides the stored extension, so
    that a workbook saved under the other Excel extension still reads correctly.

    Raises:
        UploadRejected: with a message for the person who uploaded the file.
    """
    if suffix not in ALLOWED_SUFFIXES:
        allowed = ", ".join(ALLOWED_SUFFIXES)
        raise UploadRejected(f"“{shown_as}” is not a spreadsheet batchprov reads ({allowed}).")
    with path.open("rb") as handle:
        head = handle.read(8)
    if not head:
        raise UploadRejected(f"“{shown_as}” is empty.")
    if suffix in EXCEL_SUFFIXES:
        return _excel_kind(path, suffix, head, shown_as)
    _check_text(path, shown_as)
    return suffix.lstrip(".")


def _excel_kind(path: Path, suffix: str, head: bytes, shown_as: str) -> str:
    if zipfile.is_zipfile(path):
        if not _has_workbook(path):
            raise UploadRejected(
                f"“{shown_as}” is a zip archive but not an Excel workbook. "
                "Open it in Excel and save it as .xlsx."
            )
        return "xlsm" if suffix == ".xlsm" else "xlsx"
    if head.startswith(_OLE2_MAGIC):
        if _ENCRYPTED_STREAM in path.read_bytes():
            raise UploadRejected(
                f"“{shown_as}” is password-protected. Remove the password in Excel "
                "(File › Info › Protect Workbook) and upload it again."
            )
        return "xls"
    raise UploadRejected(
        f"“{shown_as}” is not a real Excel workbook, although its name ends in {suffix}. "
        "Open it in Excel and save it as .xlsx, or save it as .csv."
    )


def _has_workbook(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return "xl/workbook.xml" in archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def _check_text(path: Path, shown_as: str) -> None:
    """Delimited text must decode as the reader decodes it (UTF-8, UTF-16, Windows-1252)
    and hold no NUL character."""
    text, _ = decode_text(path.read_bytes())
    if "\0" in text:
        raise UploadRejected(
            f"“{shown_as}” is not a text file, although its name says so. "
            "Upload the workbook itself (.xlsx), or save it from Excel as CSV."
        )


def download_name(stem_from: str, suffix: str) -> str:
    """A safe file name for `Content-Disposition`, built from the uploaded file's name."""
    stem = PurePosixPath(stem_from).stem
    stem = re.sub(r"[^\w .()-]+", "_", stem).strip(" .") or "batchprov"
    return f"{stem[:100]}{suffix}"
