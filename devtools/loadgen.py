"""Simulated kiosks for `moodkiosk bench-central`: one MQTT 5 connection per kiosk, QoS 1 mood windows.

A load generator must cost far less CPU than what it measures. paho spends ~100 us of Python per publish,
so on a 2-core machine the simulated kiosks used to take as much CPU as the collector under test. Here the
kiosks speak the few MQTT 5 packets they need (CONNECT, PUBLISH QoS 1, PUBACK, DISCONNECT) over asyncio
protocols with pre-encoded packets: a few microseconds per window. It honours the broker's Receive Maximum
(at most that many unacknowledged windows per connection) and counts a window only when its PUBACK carries
a success reason code. The payloads are real mood.v1 documents; the collector validates them as any other.
"""
from __future__ import annotations

import asyncio
import struct
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import contract
from contract.valence import mood_index

# Simulated windows are one minute apart from midnight UTC ten days ago: inside the collector's plausible range.
T0 = (time.time() // 86400 - 10) * 86400

CONNECT, CONNACK, PUBLISH_QOS1, PUBACK, DISCONNECT = 0x10, 0x20, 0x32, 0x40, 0xE0
RECEIVE_MAXIMUM = 0x21  # MQTT 5 property id (two-byte integer) in CONNACK


def kiosk_ids(index: int) -> tuple[str, str]:
    """Kiosk number -> (store, kiosk): 10 kiosks per store, b000/k0 ... b099/k9 for 1,000 kiosks."""
    return f"b{index // 10:03d}", f"k{index % 10}"


def mood_payload(index: int, seq: int) -> tuple[str, bytes]:
    """Topic and mood.v1 JSON of kiosk ``index``'s window ``seq`` (one-minute windows from T0)."""
    store, kiosk = kiosk_ids(index)
    start = datetime.fromtimestamp(T0 + 60 * seq, timezone.utc)
    people = 3 + (index + seq) % 6
    happy = (index * 7 + seq) % (people + 1)
    counts = {"happy": happy, "neutral": people - happy}
    doc = contract.MoodDocument(
        store, kiosk, seq, start, start + timedelta(minutes=1), people, counts,
        round(mood_index(counts) or 0.0, 4), contract.Feedback(happy=seq % 2), "bench", 1)
    return contract.topic_for(store, kiosk, "mood"), doc.encode()


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _utf8(text: str) -> bytes:
    data = text.encode()
    return struct.pack("!H", len(data)) + data


def connect_packet(client_id: str, keepalive: int = 60) -> bytes:
    """MQTT 5 CONNECT with clean start and no properties."""
    body = _utf8("MQTT") + bytes([5, 0x02]) + struct.pack("!H", keepalive) + b"\x00" + _utf8(client_id)
    return bytes([CONNECT]) + _varint(len(body)) + body


def publish_packet(topic: str, packet_id: int, payload: bytes) -> bytes:
    """MQTT 5 PUBLISH, QoS 1, no properties."""
    body = _utf8(topic) + struct.pack("!H", packet_id) + b"\x00" + payload
    return bytes([PUBLISH_QOS1]) + _varint(len(body)) + body


def _read_packets(buffer: bytearray) -> list[tuple[int, bytes]]:
    """Split complete packets off the front of ``buffer``: [(first byte, body)]."""
    packets = []
    pos = 0
    while pos + 2 <= len(buffer):
        length, mult, i = 0, 1, pos + 1
        while True:
            if i >= len(buffer):
                del buffer[:pos]
                return packets
            byte = buffer[i]
            length += (byte & 0x7F) * mult
            mult *= 128
            i += 1
            if not byte & 0x80:
                break
        if i + length > len(buffer):
            break
        packets.append((buffer[pos], bytes(buffer[i:i + length])))
        pos = i + length
    del buffer[:pos]
    return packets


def _receive_maximum(connack: bytes) -> int:
    """The broker's Receive Maximum from a CONNACK body (65,535 when absent, as MQTT 5 says)."""
    if len(connack) < 3:
        return 65535
    pos = 2
    length, mult = 0, 1
    while True:
        byte = connack[pos]
        pos += 1
        length += (byte & 0x7F) * mult
        mult *= 128
        if not byte & 0x80:
            break
    end = pos + length
    while pos < end:
        prop = connack[pos]
        pos += 1
        if prop == RECEIVE_MAXIMUM:
            return struct.unpack_from("!H", connack, pos)[0]
        # Skip the other CONNACK properties by their MQTT 5 types.
        if prop in (0x11, 0x27):  # four-byte integers
            pos += 4
        elif prop in (0x13, 0x22):  # two-byte integers
            pos += 2
        elif prop in (0x24, 0x25, 0x28, 0x29, 0x2A):  # bytes
            pos += 1
        elif prop == 0x26:  # user property: two strings
            for _ in range(2):
                pos += 2 + struct.unpack_from("!H", connack, pos)[0]
        else:  # strings and binary data
            pos += 2 + struct.unpack_from("!H", connack, pos)[0]
    return 65535


@dataclass
class KioskConnection(asyncio.Protocol):
    """One simulated kiosk: publishes its queued windows within the broker's Receive Maximum."""

    client_id: str
    acked: int = 0
    failed: int = 0
    last_ack: float = 0.0
    connected: asyncio.Future[None] | None = None
    transport: Any = None
    window: int = 65535
    _next_id: int = 1
    _inflight: int = 0
    _queue: deque[bytes] = field(default_factory=deque)
    _buffer: bytearray = field(default_factory=bytearray)

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(connect_packet(self.client_id))

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        for first, body in _read_packets(self._buffer):
            kind = first & 0xF0
            if kind == PUBACK:
                self._inflight -= 1
                if len(body) > 2 and body[2] >= 0x80:  # an error reason code: the broker refused it
                    self.failed += 1
                else:
                    self.acked += 1
                    self.last_ack = time.time()
            elif kind == CONNACK and self.connected is not None and not self.connected.done():
                if len(body) > 1 and body[1] != 0:
                    self.connected.set_exception(ConnectionError(f"{self.client_id}: CONNACK reason {body[1]:#x}"))
                else:
                    self.window = _receive_maximum(body)
                    self.connected.set_result(None)
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.connected is not None and not self.connected.done():
            self.connected.set_exception(ConnectionError(f"{self.client_id}: connection lost ({exc})"))

    def publish(self, topic: str, payload: bytes) -> None:
        """Queue a QoS 1 window; it is written as soon as the in-flight window allows."""
        self._queue.append(publish_packet(topic, self._next_id, payload))
        self._next_id = self._next_id % 65535 + 1
        self._flush()

    def _flush(self) -> None:
        chunk = []
        while self._queue and self._inflight < self.window:
            chunk.append(self._queue.popleft())
            self._inflight += 1
        if chunk:
            self.transport.write(b"".join(chunk))

    @property
    def outstanding(self) -> int:
        return self._inflight + len(self._queue)


async def _publish_all(host: str, port: int, kiosks: list[int], seqs: list[int], rate: float,
                       go: Any, out: Any) -> tuple[int, int, float, float, dict[tuple[str, str, int], float]]:
    loop = asyncio.get_running_loop()
    conns: dict[int, KioskConnection] = {}
    for k in kiosks:
        store, kiosk = kiosk_ids(k)
        conn = KioskConnection(client_id=f"bench-{store}-{kiosk}")
        conn.connected = loop.create_future()
        await loop.create_connection(lambda c=conn: c, host, port)
        conns[k] = conn
    await asyncio.gather(*(c.connected for c in conns.values() if c.connected is not None))
    messages = [(k, s, *mood_payload(k, s)) for s in seqs for k in kiosks]
    out.put("ready")
    await loop.run_in_executor(None, go.wait)
    sent: dict[tuple[str, str, int], float] = {}
    first = time.time()
    interval = 1.0 / rate if rate else 0.0
    for i, (k, s, topic, payload) in enumerate(messages):
        if interval:
            delay = first + i * interval - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
        elif i % 1000 == 0:
            await asyncio.sleep(0)  # let PUBACKs in while queueing the burst
        sent[(*kiosk_ids(k), s)] = time.time()
        conns[k].publish(topic, payload)
    deadline = time.time() + 120
    while any(c.outstanding for c in conns.values()) and time.time() < deadline:
        await asyncio.sleep(0.005)
    for conn in conns.values():
        conn.transport.write(bytes([DISCONNECT, 0]))
        conn.transport.close()
    acked = sum(c.acked for c in conns.values())
    failed = sum(c.failed for c in conns.values())
    last = max((c.last_ack for c in conns.values()), default=first)
    return acked, failed, first, last, sent


def publish_windows(host: str, port: int, kiosks: list[int], seqs: list[int], rate: float, go: Any, out: Any) -> None:
    """Process entry point: connect every kiosk, put "ready" on ``out``, wait for ``go``, publish window ``seq``
    of every kiosk for each seq (``rate`` windows/s in total, 0 = flat out), wait for the PUBACKs. Then puts
    (acked, failed, first_publish_t, last_puback_t, {(store, kiosk, seq): publish_t}) on ``out``."""
    out.put(asyncio.run(_publish_all(host, port, kiosks, seqs, rate, go, out)))
