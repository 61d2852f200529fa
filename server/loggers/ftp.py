"""The FTP server of the station-file receiver: pyftpdlib in its own thread, one account per
station (from streams.yaml, re-read at every login so a reload takes effect at once), each
chrooted to its home under `<root>/ftp/<station>/`.

The FTP thread only writes files and reports completed (or cut) uploads; everything else happens
on the asyncio loop. An upload cut in the middle (ABOR, connection lost) is moved to `rejected/`
with its reason, and the station's next upload is a new file.
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyftpdlib.authorizers import AuthenticationFailed
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer

from contract.config import StreamsConfig
from server.loggers.inbox import Arrival, StationInbox

logger = logging.getLogger(__name__)

STATION_PERMS = "elrawfmd"  # cwd, list, retrieve, append, store, rename, mkdir, delete: inside its home only


@dataclass(frozen=True)
class FtpOptions:
    host: str
    port: int
    passive_ports: range | None
    masquerade_address: str | None
    max_connections: int


class StationAuthorizer:
    """pyftpdlib's authorizer interface over the stations in the current streams.yaml."""

    def __init__(self, config_of: Callable[[], StreamsConfig], inbox: StationInbox) -> None:
        self._config_of = config_of
        self._inbox = inbox

    def _station(self, username: str) -> tuple[str, str] | None:
        for station in self._config_of().stations:
            if station.enabled and station.ftp is not None and station.ftp.username == username:
                return station.id, station.ftp.password.get_secret_value()
        return None

    def validate_authentication(self, username: str, password: str, handler: Any) -> None:
        found = self._station(username)
        if found is None or not hmac.compare_digest(found[1].encode(), password.encode()):
            raise AuthenticationFailed("authentication failed")

    def get_home_dir(self, username: str) -> str:
        found = self._station(username)
        if found is None:
            raise AuthenticationFailed("no such station")
        return str(self._inbox.home(found[0]))

    def has_user(self, username: str) -> bool:
        return self._station(username) is not None

    def has_perm(self, username: str, perm: str, path: str | None = None) -> bool:
        if perm not in STATION_PERMS or self._station(username) is None:
            return False
        if path is None:
            return True
        home = Path(self.get_home_dir(username)).resolve()
        return Path(path).resolve().is_relative_to(home)

    def get_perms(self, username: str) -> str:
        return STATION_PERMS if self.has_user(username) else ""

    def get_msg_login(self, username: str) -> str:
        return "Welcome: upload TT 10/2021 station files here."

    def get_msg_quit(self, username: str) -> str:
        return "Goodbye."

    def impersonate_user(self, username: str, password: str) -> None:
        return None

    def terminate_impersonation(self, username: str) -> None:
        return None


class StationFtpServer:
    """Owns the pyftpdlib server and its thread."""

    def __init__(
        self,
        options: FtpOptions,
        inbox: StationInbox,
        config_of: Callable[[], StreamsConfig],
        nudge: Callable[[], None],
    ) -> None:
        self._inbox = inbox
        self._stopping = threading.Event()
        handler = _handler_class(inbox, nudge)
        handler.authorizer = StationAuthorizer(config_of, inbox)
        handler.banner = "IOC Monitor station-file receiver ready."
        if options.passive_ports is not None:
            handler.passive_ports = options.passive_ports
        if options.masquerade_address:
            handler.masquerade_address = options.masquerade_address
        handler.use_sendfile = False
        self._server = FTPServer((options.host, options.port), handler)
        self._server.max_cons = options.max_connections
        self._server.max_cons_per_ip = 0
        self._thread = threading.Thread(target=self._serve, name="station-ftp", daemon=True)

    @property
    def serving(self) -> bool:
        return self._thread.is_alive() and not self._stopping.is_set()

    @property
    def port(self) -> int:
        return int(self._server.address[1])

    def start(self) -> None:
        logging.getLogger("pyftpdlib").setLevel(logging.WARNING)  # its per-command lines are not ours
        self._thread.start()
        logger.info("station FTP server listening on %s:%s", self._server.address[0], self.port)

    def _serve(self) -> None:
        try:
            while not self._stopping.is_set():
                self._server.serve_forever(timeout=0.2, blocking=False, handle_exit=False)
        except Exception:
            logger.exception("station FTP server failed; station uploads stop until restart")
        finally:
            self._server.close_all()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=10)


def _handler_class(inbox: StationInbox, nudge: Callable[[], None]) -> type[FTPHandler]:
    """An FTPHandler subclass bound to this inbox (pyftpdlib configures handlers by class)."""

    class StationFtpHandler(FTPHandler):  # type: ignore[misc]
        uploading: str | None = None

        def ftp_STOR(self, file: str, mode: str = "w") -> str | None:  # noqa: N802 - pyftpdlib's name
            inbox.uploads.begin(file)
            self.uploading = file
            stored: str | None = super().ftp_STOR(file, mode)
            if stored is None:
                self._finished(file, complete=False)
            return stored

        def _finished(self, file: str, complete: bool) -> None:
            inbox.uploads.end(file, complete)
            self.uploading = None

        def on_file_received(self, file: str) -> None:
            self._finished(file, complete=True)
            nudge()

        def on_disconnect(self) -> None:
            # the link was lost with no verdict on the transfer: the file is read like a dropped
            # one once it has settled, and its content decides (a cut last line is dead-lettered)
            if self.uploading is not None:
                logger.info("station upload %s: connection lost mid-transfer", Path(self.uploading).name)
                self._finished(self.uploading, complete=False)

        def on_incomplete_file_received(self, file: str) -> None:
            self._finished(file, complete=False)
            station_id = Path(file).resolve().relative_to((inbox.root / "ftp").resolve()).parts[0]
            try:
                inbox.rejected(Arrival(station_id, Path(file), "ftp"), "upload cut in the middle (incomplete transfer)")
            except OSError as exc:
                logger.warning("station %s: cut upload %s could not be moved to rejected/: %s", station_id, file, exc)
            logger.warning("station %s: upload of %s was cut; moved to rejected/", station_id, Path(file).name)

    return StationFtpHandler
