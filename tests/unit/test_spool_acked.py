"""Acknowledged windows stay in the spool for ACKED_KEEP_S (to be sent again after a reconnect), are not
waiting any more (depth, bound), and are forgotten afterwards; a spool written before the column still opens."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from kiosk.services.spool import ACKED_KEEP_S, Spool


def test_acknowledged_windows_are_kept_for_a_while_then_forgotten(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite", 3)
    seqs = [spool.append(lambda seq: b"w%d" % seq) for _ in range(3)]
    spool.acknowledge(seqs[0], now=1000.0)
    assert spool.depth() == 2 and [i.seq for i in spool.peek()] == seqs[1:]
    assert [i.seq for i in spool.peek(acked_since=1000.0 - ACKED_KEEP_S)] == seqs  # what a reconnect sends
    spool.append(lambda seq: b"w%d" % seq)  # a fourth: the bound of 3 counts waiting windows only
    assert spool.depth() == 3 and spool.dropped() == 0
    spool.acknowledge(seqs[1], now=1000.0 + ACKED_KEEP_S + 1)  # later: the first acknowledgement has expired
    assert [i.seq for i in spool.peek(acked_since=0.0)][:1] == [seqs[1]]
    spool.close()


def test_a_spool_written_before_the_acked_column_opens_and_keeps_its_windows(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)")
    db.execute("CREATE TABLE windows (seq INTEGER PRIMARY KEY, payload BLOB NOT NULL, spooled_at REAL NOT NULL)")
    db.executemany("INSERT INTO meta VALUES (?, ?)", [("next_seq", 8), ("dropped", 0)])
    db.executemany("INSERT INTO windows VALUES (?, ?, 0)", [(6, b"a"), (7, b"b")])
    db.commit()
    db.close()
    spool = Spool(path, 100)
    assert spool.depth() == 2 and spool.last_seq() == 7
    spool.acknowledge(6)
    assert [i.seq for i in spool.peek()] == [7]
    spool.close()
