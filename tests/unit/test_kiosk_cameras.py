"""`moodkiosk cameras`: names and stable paths from sysfs and udev's links, one clear line when there is none."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kiosk.services.cameras import Camera, CameraMode, describe, list_cameras

REPO = Path(__file__).resolve().parents[2]


def test_cameras_are_named_with_their_stable_path(tmp_path):
    sys_root, dev_root = tmp_path / "sys", tmp_path / "dev"
    (sys_root / "class" / "video4linux" / "video0").mkdir(parents=True)
    (sys_root / "class" / "video4linux" / "video0" / "name").write_text("HD Pro Webcam C920\n")
    by_id = dev_root / "v4l" / "by-id"
    by_id.mkdir(parents=True)
    (by_id / "usb-046d_HD_Pro_Webcam_C920-video-index0").symlink_to("../../video0")
    (dev_root / "video0").write_text("")  # not a V4L2 device: its modes cannot be read, which it says
    (camera,) = list_cameras(sys_root, dev_root)
    assert camera.name == "HD Pro Webcam C920"
    assert camera.source == str(by_id / "usb-046d_HD_Pro_Webcam_C920-video-index0")
    assert camera.problem and str(dev_root / "video0") in camera.problem
    lines = describe([Camera(Path("/dev/video0"), "C920", (Path("/dev/v4l/by-id/usb-cam-video-index0"),),
                             (CameraMode("MJPG", 1920, 1080, 30.0), CameraMode("YUYV", 640, 480, 30.0)))])
    assert lines == ["/dev/video0  C920", '    source = "/dev/v4l/by-id/usb-cam-video-index0"',
                     "    also: /dev/v4l/by-id/usb-cam-video-index0", "    MJPG 1920x1080 @ 30 fps",
                     "    YUYV 640x480 @ 30 fps"]


def test_no_camera_is_one_line():
    if list_cameras():  # a machine with a camera prints it instead
        return
    result = subprocess.run([sys.executable, "-m", "kiosk", "cameras"], capture_output=True, text=True, timeout=60,
                            cwd=REPO, env=dict(os.environ))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("moodkiosk cameras: error: no cameras found")
