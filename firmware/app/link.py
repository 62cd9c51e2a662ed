"""Reliable delivery over the line protocol: the sender's outbox (stop-and-wait with bounded
re-sends) and the receiver's de-duplication window."""

from app.clock import plain_diff
from app.protocol import encode, next_seq


class Outbox:
    """Sequenced frames waiting for their ACK, oldest first. HELLO (seq 0) always goes first.

    A head frame is re-sent every `resend_ms`; after `max_attempts` the peer is considered gone
    and sending pauses (`stalled`) until `resume()` (any valid frame from the peer). Frames older
    than `ttl_ms` are dropped: a card tap nobody received 20 s ago must not log a shopper in later."""

    def __init__(self, hello_payload, resend_ms=300, max_attempts=6, ttl_ms=20000, max_len=16, diff=plain_diff):
        self._hello = tuple(hello_payload)
        self._resend_ms = resend_ms
        self._max_attempts = max_attempts
        self._ttl_ms = ttl_ms
        self._max_len = max_len
        self._diff = diff
        self._queue = []  # [seq, kind, payload, created]
        self._seq = 0
        self.hello_pending = True
        self._sent_at = None
        self._attempts = 0
        self.stalled = False
        self.dropped = 0
        self.expired = 0
        self.resent = 0

    @property
    def last_seq(self):
        return self._seq

    def __len__(self):
        return len(self._queue) + (1 if self.hello_pending else 0)

    def announce(self):
        """Send HELLO again, right now and before anything else (the peer asked who we are)."""
        self.hello_pending = True
        self._sent_at = None
        self._attempts = 0
        self.stalled = False

    def push(self, kind, payload, now):
        """Queue an event; returns its sequence number. A full queue drops its oldest entry."""
        self._seq = next_seq(self._seq)
        if len(self._queue) >= self._max_len:
            self._queue.pop(0)
            self.dropped += 1
            if not self.hello_pending:
                self._sent_at = None
                self._attempts = 0
        self._queue.append([self._seq, kind, tuple(payload), now])
        return self._seq

    def ack(self, seq):
        """The peer acknowledged `seq`; returns True when it was the frame in flight."""
        if self.hello_pending:
            if seq != 0:
                return False
            self.hello_pending = False
        elif self._queue and self._queue[0][0] == seq:
            self._queue.pop(0)
        else:
            return False
        self._sent_at = None
        self._attempts = 0
        self.stalled = False
        return True

    def resume(self):
        """The peer is talking again: restart re-sends of the head frame right away."""
        if self.stalled:
            self.stalled = False
            self._attempts = 0
            self._sent_at = None

    def due(self, now):
        """The frame to write now (bytes), or None."""
        self._expire(now)
        if self.stalled:
            return None
        if self._sent_at is not None and self._diff(now, self._sent_at) < self._resend_ms:
            return None
        if self.hello_pending:
            frame = encode("HELLO", 0, self._hello)
        elif self._queue:
            head = self._queue[0]
            frame = encode(head[1], head[0], head[2])
        else:
            return None
        if self._attempts >= self._max_attempts:
            self.stalled = True
            return None
        if self._attempts:
            self.resent += 1
        self._attempts += 1
        self._sent_at = now
        return frame

    def _expire(self, now):
        while self._queue and self._diff(now, self._queue[0][3]) > self._ttl_ms:
            self._queue.pop(0)
            self.expired += 1
            if not self.hello_pending:
                self._sent_at = None
                self._attempts = 0


class Dedup:
    """Remembers the last `size` sequence numbers accepted from the peer in this session."""

    def __init__(self, size=32):
        self._size = size
        self._seen = []

    def is_new(self, seq):
        """True the first time `seq` is seen (then remembered); False for a re-send."""
        if seq in self._seen:
            return False
        self._seen.append(seq)
        if len(self._seen) > self._size:
            self._seen.pop(0)
        return True

    def reset(self):
        self._seen = []
