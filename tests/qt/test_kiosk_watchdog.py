"""Under systemd the kiosk says READY once its window is up, feeds the watchdog from the UI thread (so a
frozen screen stops the pings and systemd restarts it), and says STOPPING at the end."""
from __future__ import annotations

import socket
import time

from kiosk.app import KioskApp


def drain(sock: socket.socket) -> list[str]:
    """Every message waiting in the notify socket now."""
    got = []
    while True:
        try:
            got.append(sock.recv(4096, socket.MSG_DONTWAIT).decode())
        except BlockingIOError:
            return got


def test_ready_watchdog_from_the_ui_thread_and_stopping(qtbot, make_config, tmp_path, monkeypatch):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # a real notify socket, as systemd has one
    sock.bind(str(tmp_path / "notify.sock"))
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify.sock"))
    monkeypatch.setenv("WATCHDOG_USEC", "600000")  # pings every 0.2 s
    app = KioskApp(make_config(), fullscreen=False, size=(1280, 720))
    qtbot.addWidget(app.window)
    got: list[str] = []
    try:
        app.start()
        qtbot.waitUntil(lambda: got.extend(drain(sock)) or got.count("WATCHDOG=1") >= 3, timeout=5000)
        assert any(m.startswith("READY=1") for m in got)
        drain(sock)
        time.sleep(2.0)  # the UI thread hangs: no event loop, no timer, no ping
        assert "WATCHDOG=1" not in drain(sock)
        qtbot.wait(700)
        assert "WATCHDOG=1" in drain(sock)  # the loop runs again: pings again
    finally:
        app.stop()
    assert drain(sock)[-1:] == ["STOPPING=1"]
    sock.close()
