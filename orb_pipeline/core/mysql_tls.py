"""TLS to MySQL/MariaDB: the one rule every client follows (results store, warehouse; pymysql,
SQLAlchemy and connectorx).

Contract
- No CA file: nothing is verified (the local and compose servers speak plain TCP; pymysql may
  still negotiate TLS with a server that offers it, unverified). Production sets a CA.
- A CA file: TLS is required, and the server's certificate chain **and** host name are verified
  against that file (pymysql ``ssl={"ca": ..., "check_hostname": True}``; connectorx
  ``ssl-mode=VERIFY_IDENTITY&ssl-ca=...``). A server without TLS, a certificate from another CA
  or a certificate for another host name is refused.
- A refused handshake is not an outage: callers do not retry it, and raise the message of
  :meth:`MySqlTls.failure_message`, which names the server, the CA file and the variable that
  chose it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

# Words of a refused TLS handshake: Python's ssl module (through pymysql), pymysql's own check
# of the server's capabilities, and OpenSSL through connectorx's Rust client.
_TLS_REFUSED = re.compile(
    r"certificate verify failed|CERTIFICATE_VERIFY_FAILED|SSL is required but the server"
    r"|TlsError|SSL connection error|hostname mismatch|IP address mismatch",
    re.IGNORECASE,
)


class MySqlTlsError(ValueError):
    """The TLS settings cannot work (a CA file that does not exist); the message names the
    variable."""


@dataclass(frozen=True)
class MySqlTls:
    """TLS of one MySQL client: ``ca_path`` (``None``: no TLS) and ``variable``, the setting that
    chose it (``ORB_RESULTS_TLS_CA``, ``ORB_WAREHOUSE_TLS_CA``), named in every error."""

    ca_path: str | None
    variable: str

    def _checked_ca(self) -> str:
        assert self.ca_path
        if not Path(self.ca_path).is_file():
            raise MySqlTlsError(
                f"{self.variable} names the CA file {self.ca_path}, which does not exist "
                "(the stack's image holds the RDS bundle at $ORB_RDS_CA_BUNDLE)"
            )
        return self.ca_path

    def pymysql_connect_args(self) -> dict[str, Any]:
        """Keywords for ``pymysql.connect`` (and SQLAlchemy's ``connect_args``): ``{}`` without a
        CA; with one, TLS with certificate and host-name verification."""
        if not self.ca_path:
            return {}
        return {"ssl": {"ca": self._checked_ca(), "check_hostname": True}}

    def connectorx_query(self) -> str:
        """The query string connectorx's MySQL URL needs (``""`` without a CA, else starting
        with ``?``): the same verification as :meth:`pymysql_connect_args`."""
        if not self.ca_path:
            return ""
        # ssl-ca is a file path: keep "/" readable, escape anything URL-significant.
        return "?ssl-mode=VERIFY_IDENTITY&ssl-ca=" + quote(self._checked_ca(), safe="/")

    def refused(self, error: BaseException) -> bool:
        """Whether ``error`` (or what it wraps) is a refused TLS handshake of this client."""
        if not self.ca_path:
            return False
        seen: set[int] = set()
        current: BaseException | None = error
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            if _TLS_REFUSED.search(str(current)) or _TLS_REFUSED.search(
                str(getattr(current, "orig", "") or "")
            ):
                return True
            current = current.__cause__ or current.__context__
        return False

    def failure_message(self, server: str, error: BaseException) -> str:
        """What to tell the user when :meth:`refused` holds for ``error`` on ``server``."""
        reason = str(getattr(error, "orig", None) or error).splitlines()[0][:300]
        return (
            f"TLS to MySQL server {server} refused: the server's certificate could not be verified "
            f"against the CA file {self.ca_path} ({self.variable}), or the server does not offer "
            f"TLS ({reason}). Check that {self.variable} names the CA that signed the server's "
            "certificate and that the host name is one the certificate names (no password was sent)"
        )
