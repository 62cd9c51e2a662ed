"""`moodkiosk cameras`: list the cameras (names, the source to configure, modes)."""
from __future__ import annotations

import argparse

from kiosk.errors import KioskError
from kiosk.services.cameras import describe, list_cameras


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options


def main(args: argparse.Namespace) -> int:
    cameras = list_cameras()
    if not cameras:
        raise KioskError("no cameras found (no V4L2 capture device under /dev/video*): plug the camera in, check "
                         "`dmesg`, or use a video file / rtsp:// URL as [camera] source")
    for line in describe(cameras):
        print(line)
    return 0
