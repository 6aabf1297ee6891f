"""Kafka's health check: a Metadata request (v4) on the broker's own listener, as the local stack's
readiness probe makes with a client library. Ready means the broker answers with at least one
registered broker and an active controller, not merely that its port is open.

Standard library only (the image has no Kafka client for Python); Kafka 4 no longer serves
Metadata below v4. Prints one line: Docker keeps it in the health log, where the harness shows it.
"""

import socket
import struct
import sys


def metadata_request(correlation_id: int) -> bytes:
    client = b"k2-healthcheck"
    header = struct.pack(">hhih", 3, 4, correlation_id, len(client)) + client  # Metadata v4, header v1
    body = struct.pack(">i?", -1, False)  # every topic (null array), no auto-creation
    return struct.pack(">i", len(header) + len(body)) + header + body


def read_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("the broker closed the connection mid-answer")
        data += chunk
    return data


def brokers_and_controller(answer: bytes) -> tuple[int, int]:
    at = 4 + 4  # correlation id, throttle time
    (count,) = struct.unpack_from(">i", answer, at)
    at += 4
    for _ in range(count):
        at += 4  # node id
        (host_len,) = struct.unpack_from(">h", answer, at)
        at += 2 + host_len + 4  # host, port
        (rack_len,) = struct.unpack_from(">h", answer, at)
        at += 2 + max(rack_len, 0)
    (cluster_len,) = struct.unpack_from(">h", answer, at)
    at += 2 + max(cluster_len, 0)
    (controller,) = struct.unpack_from(">i", answer, at)
    return count, controller


def main(port: int) -> int:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(metadata_request(1))
            (size,) = struct.unpack(">i", read_exactly(sock, 4))
            brokers, controller = brokers_and_controller(read_exactly(sock, size))
    except (OSError, struct.error) as exc:
        print(f"metadata request failed: {exc}")
        return 1
    if brokers < 1 or controller < 0:
        print(f"metadata lists {brokers} broker(s), controller {controller}: not ready yet")
        return 1
    print(f"metadata ok: {brokers} broker(s), controller {controller}")
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 9092))
