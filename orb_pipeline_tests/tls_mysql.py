"""A throwaway MariaDB server that speaks only TLS, for the TLS verification tests.

:func:`start_tls_server` makes a CA and a server certificate for ``localhost`` (DNS name only, so
connecting to ``127.0.0.1`` is a host-name mismatch), a second CA that signed nothing, a fresh
data directory (``mariadb-install-db``), and runs ``mariadbd`` on a free loopback port with
``--require-secure-transport``. The tests' user (every privilege, with grant option, like an
RDS master user) exists with ``REQUIRE SSL``; the admin connects
over the server's Unix socket. Starts in about a second.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from orb_pipeline_tests.services import free_port

_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])


def _binary(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name, path=_SEARCH_PATH)
        if found:
            return found
    return None


def missing_binaries() -> list[str]:
    """The MariaDB programs this machine lacks (empty when a TLS server can start)."""
    missing = []
    if _binary("mariadbd", "mysqld") is None:
        missing.append("mariadbd (or mysqld)")
    if _binary("mariadb-install-db", "mysql_install_db") is None:
        missing.append("mariadb-install-db (or mysql_install_db)")
    return missing


def _write_certificates(directory: Path) -> None:
    """``ca.pem`` signs ``server.pem`` (for DNS ``localhost``, key ``server-key.pem``);
    ``other-ca.pem`` is an unrelated CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    def certificate(subject, issuer, public_key, signing_key, *, ca: bool, names=()):
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(name(issuer))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            ).add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        else:
            builder = (
                builder.add_extension(
                    x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
                )
                .add_extension(
                    x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
                )
                .add_extension(
                    x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()),
                    critical=False,
                )
            )
        return builder.sign(signing_key, hashes.SHA256())

    def pem(cert) -> bytes:
        return cert.public_bytes(serialization.Encoding.PEM)

    ca_key, other_key, server_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = certificate("orb test CA", "orb test CA", ca_key.public_key(), ca_key, ca=True)
    other = certificate("other CA", "other CA", other_key.public_key(), other_key, ca=True)
    server = certificate(
        "localhost", "orb test CA", server_key.public_key(), ca_key, ca=False, names=["localhost"]
    )
    (directory / "ca.pem").write_bytes(pem(ca))
    (directory / "other-ca.pem").write_bytes(pem(other))
    (directory / "server.pem").write_bytes(pem(server))
    (directory / "server-key.pem").write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )


@dataclass
class TlsServer:
    """A running TLS-only MariaDB. ``host`` matches the certificate; ``mismatched_host`` reaches
    the same server under a name the certificate does not hold."""

    directory: Path
    process: subprocess.Popen
    port: int
    user: str
    password: str
    host: str = "localhost"
    mismatched_host: str = "127.0.0.1"

    @property
    def ca_path(self) -> str:
        return str(self.directory / "ca.pem")

    @property
    def other_ca_path(self) -> str:
        return str(self.directory / "other-ca.pem")

    @property
    def socket(self) -> str:
        return str(self.directory / "mysqld.sock")

    def admin(self, database: str | None = None):
        """A root connection over the Unix socket (no TLS needed there)."""
        import pymysql

        return pymysql.connect(
            unix_socket=self.socket, user="root", database=database, autocommit=True
        )

    def error_log(self) -> str:
        path = self.directory / "error.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


class TlsServerError(RuntimeError):
    """The TLS server did not start (the message holds the end of its error log)."""


def start_tls_server(start_timeout_seconds: float = 30.0) -> TlsServer:
    """Start a TLS-only MariaDB (see module docstring); the caller stops it."""
    import pymysql

    server_binary = _binary("mariadbd", "mysqld")
    install_binary = _binary("mariadb-install-db", "mysql_install_db")
    if server_binary is None or install_binary is None:
        raise TlsServerError("missing: " + ", ".join(missing_binaries()))
    # A short directory: the Unix socket path must fit in 108 bytes.
    directory = Path(tempfile.mkdtemp(prefix="orbtls-"))
    as_root = ["--user=root"] if os.geteuid() == 0 else []
    try:
        _write_certificates(directory)
        installed = subprocess.run(
            [
                install_binary,
                "--no-defaults",
                "--datadir=" + str(directory / "data"),
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
                *as_root,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if installed.returncode != 0:
            raise TlsServerError(
                f"{install_binary} failed: {(installed.stderr or installed.stdout)[-2000:]}"
            )
        port = free_port()
        process = subprocess.Popen(
            [
                server_binary,
                "--no-defaults",
                *as_root,
                "--datadir=" + str(directory / "data"),
                "--bind-address=127.0.0.1",
                f"--port={port}",
                "--socket=" + str(directory / "mysqld.sock"),
                "--pid-file=" + str(directory / "mysqld.pid"),
                "--log-error=" + str(directory / "error.log"),
                "--ssl-ca=" + str(directory / "ca.pem"),
                "--ssl-cert=" + str(directory / "server.pem"),
                "--ssl-key=" + str(directory / "server-key.pem"),
                "--require-secure-transport=ON",
                "--skip-name-resolve",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=16M",
                "--max-connections=60",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    server = TlsServer(
        directory=directory,
        process=process,
        port=port,
        user="orb_tls",
        password=secrets.token_hex(12),
    )
    deadline = time.monotonic() + start_timeout_seconds
    while True:
        try:
            admin = server.admin()
            break
        except pymysql.err.OperationalError:
            if process.poll() is not None or time.monotonic() > deadline:
                log = server.error_log()
                server.stop()
                raise TlsServerError(
                    f"{server_binary} did not start on port {port}:\n{log}"
                ) from None
            time.sleep(0.1)
    try:
        with admin.cursor() as cursor:
            cursor.execute(
                "CREATE USER %s@'%%' IDENTIFIED BY %s REQUIRE SSL", (server.user, server.password)
            )
            # Like an RDS master user: every privilege, and it may grant them.
            cursor.execute(
                "GRANT ALL PRIVILEGES ON *.* TO %s@'%%' WITH GRANT OPTION", (server.user,)
            )
    finally:
        admin.close()
    return server
