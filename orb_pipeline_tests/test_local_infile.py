"""A hostile MySQL server on loopback asks for a local file on the first query: the results store's
connection sends nothing unless it is the CSV our own LOAD DATA wrote (plain pymysql with
local_infile sends any file, which is what this guards against)."""

from __future__ import annotations

import socket
import struct
import threading

import pymysql
import pytest

from orb_pipeline.core.local_infile import (
    LocalInfileRefusedError,
    RestrictedLocalInfileConnection,
)

CAPABILITIES = 0x1 | 0x8 | 0x80 | 0x200 | 0x8000 | 0x80000  # ... LOCAL_FILES, PROTOCOL_41, AUTH


def _packet(sequence: int, payload: bytes) -> bytes:
    return struct.pack("<I", len(payload))[:3] + bytes([sequence]) + payload


def _read_packet(conn: socket.socket) -> tuple[int, bytes]:
    header = b""
    while len(header) < 4:
        chunk = conn.recv(4 - len(header))
        if not chunk:
            raise ConnectionError("client closed")
        header += chunk
    length = int.from_bytes(header[:3], "little")
    payload = b""
    while len(payload) < length:
        payload += conn.recv(length - len(payload))
    return header[3], payload


class HostileServer:
    """Speaks just enough of the protocol to log a client in, then answers its first query with
    "send me <requested>" and records every byte of file content the client sends."""

    def __init__(self, requested: str):
        self.requested = requested.encode()
        self.received = b""
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            salt = b"abcdefgh" + b"ijklmnopqrst"
            greeting = (
                b"\x0a"
                + b"5.7.99-hostile\x00"
                + struct.pack("<I", 7)
                + salt[:8]
                + b"\x00"
                + struct.pack("<H", CAPABILITIES & 0xFFFF)
                + b"\x21"
                + struct.pack("<H", 2)
                + struct.pack("<H", CAPABILITIES >> 16)
                + bytes([21])
                + b"\x00" * 10
                + salt[8:]
                + b"\x00"
                + b"mysql_native_password\x00"
            )
            conn.sendall(_packet(0, greeting))
            _read_packet(conn)  # the client's login
            conn.sendall(_packet(2, b"\x00\x00\x00\x00\x00\x00\x00"))
            while True:  # session set-up (SET AUTOCOMMIT ...) gets OK; the first real query
                _, query = _read_packet(conn)  # gets "send me the file"
                if not query[1:].upper().startswith(b"SET "):
                    break
                conn.sendall(_packet(1, b"\x00\x00\x00\x00\x00\x00\x00"))
            conn.sendall(_packet(1, b"\xfb" + self.requested))
            sequence = 1
            while True:
                sequence, payload = _read_packet(conn)
                if not payload:
                    break
                self.received += payload
            conn.sendall(_packet(sequence + 1, b"\x00\x01\x00\x00\x00\x00\x00"))
            while True:  # later commands: OK, until the client quits
                try:
                    _, payload = _read_packet(conn)
                except (ConnectionError, OSError):
                    return
                if payload[:1] == b"\x01":  # COM_QUIT
                    return
                conn.sendall(_packet(1, b"\x00\x00\x00\x00\x00\x00\x00"))

    def close(self) -> None:
        self.listener.close()
        self.thread.join(timeout=10)


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "environ"
    path.write_bytes(b"ORB_RESULTS_PASSWORD=hunter2\n")
    return path


def _connect(cls, port: int):
    return cls(host="127.0.0.1", port=port, user="orb", password="x", connect_timeout=5)


def test_plain_pymysql_with_local_infile_sends_the_file_the_server_names(secret_file):
    # What the store did before: the server reads a file of its choosing on the first query.
    server = HostileServer(str(secret_file))
    connection = pymysql.connect(
        host="127.0.0.1", port=server.port, user="orb", password="x", local_infile=True
    )
    connection.cursor().execute("SELECT 1")
    connection.close()
    server.close()
    assert server.received == secret_file.read_bytes()


def test_restricted_connection_refuses_a_file_it_did_not_ask_to_send(secret_file):
    server = HostileServer(str(secret_file))
    connection = _connect(RestrictedLocalInfileConnection, server.port)
    with pytest.raises(LocalInfileRefusedError, match="asked for the local file .*environ"):
        connection.cursor().execute("SELECT 1")
    connection.close()
    server.close()
    assert server.received == b""


def test_restricted_connection_refuses_another_file_during_our_own_load(secret_file, tmp_path):
    ours = tmp_path / "batch.csv"
    ours.write_bytes(b"1,2\n")
    server = HostileServer(str(secret_file))
    connection = _connect(RestrictedLocalInfileConnection, server.port)
    with (
        connection.allow_local_file(str(ours)),
        pytest.raises(LocalInfileRefusedError, match=r"while only .*batch\.csv"),
    ):
        connection.cursor().execute("LOAD DATA LOCAL INFILE %s INTO TABLE t", (str(ours),))
    connection.close()
    server.close()
    assert server.received == b""


def test_restricted_connection_sends_exactly_the_file_of_our_load(tmp_path):
    ours = tmp_path / "batch.csv"
    ours.write_bytes(b"1,2\n3,4\n")
    server = HostileServer(str(ours))
    connection = _connect(RestrictedLocalInfileConnection, server.port)
    with connection.allow_local_file(str(ours)):
        connection.cursor().execute("LOAD DATA LOCAL INFILE %s INTO TABLE t", (str(ours),))
    assert connection.allowed_local_file is None  # only inside the block
    connection.close()
    server.close()
    assert server.received == b"1,2\n3,4\n"
