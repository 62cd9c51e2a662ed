"""The cameras this machine has: V4L2 capture devices with their names, stable paths and modes.

Names and stable `/dev/v4l/by-id` paths come from sysfs and udev's links (a by-id path survives replugging
into another USB port, a /dev/videoN number does not); modes (pixel format, size, frame rates) from the
device's own V4L2 enumeration through `linuxpy`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CameraMode:
    pixel_format: str
    width: int
    height: int
    max_fps: float  # 0: the device did not say


@dataclass(frozen=True)
class Camera:
    device: Path  # /dev/videoN
    name: str
    stable_paths: tuple[Path, ...]  # /dev/v4l/by-id/... and by-path/..., use one as camera.source
    modes: tuple[CameraMode, ...]
    problem: str | None = None  # why the modes could not be read (e.g. permissions)

    @property
    def source(self) -> str:
        """What to put in [camera] source: the by-id path when there is one."""
        by_id = [p for p in self.stable_paths if "by-id" in p.parts]
        return str((by_id or [self.device])[0])


def list_cameras(sys_root: Path = Path("/sys"), dev_root: Path = Path("/dev")) -> list[Camera]:
    """Every V4L2 video node that can capture, sorted by number (metadata-only nodes are left out)."""
    class_dir = sys_root / "class" / "video4linux"
    if not class_dir.is_dir():
        return []
    links = _stable_links(dev_root / "v4l")
    cameras = []
    for entry in sorted(class_dir.glob("video*"), key=lambda p: int(p.name[5:] or 0) if p.name[5:].isascii() and p.name[5:].isdigit() else 0):
        device = dev_root / entry.name
        try:
            name = (entry / "name").read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            name = entry.name
        modes, problem = read_modes(device)
        if problem is None and not modes:
            continue  # a UVC camera's second node carries metadata, not pictures
        cameras.append(Camera(device, name, tuple(sorted(links.get(device.name, []))), modes, problem))
    return cameras


def _stable_links(v4l_dir: Path) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    for sub in ("by-id", "by-path"):
        folder = v4l_dir / sub
        if not folder.is_dir():
            continue
        for link in folder.iterdir():
            try:
                found.setdefault(Path(os.readlink(link)).name, []).append(link)
            except OSError:
                continue
    return found


def read_modes(device: Path) -> tuple[tuple[CameraMode, ...], str | None]:
    """The device's capture modes, or an empty tuple and the reason they cannot be read."""
    try:
        from linuxpy.video.device import BufferType, Device
    except ImportError as exc:
        return (), f"linuxpy is not installed ({exc})"
    try:
        with Device(str(device), read_write=False) as camera:
            if BufferType.VIDEO_CAPTURE not in camera.info.buffers:
                return (), None
            modes = []
            for frame in camera.info.frame_types:
                modes.append(CameraMode(frame.pixel_format.name, int(frame.width), int(frame.height),
                                        float(frame.max_fps or 0)))
    except PermissionError:
        return (), f"no permission to open {device}: add the kiosk user to the group video"
    except OSError as exc:
        return (), f"{device}: {exc.strerror or exc}"
    return tuple(sorted(set(modes), key=lambda m: (m.pixel_format, -m.width * m.height, -m.max_fps))), None


def describe(cameras: list[Camera]) -> list[str]:
    """Lines for the operator: one block per camera, the source to configure first."""
    lines = []
    for camera in cameras:
        lines.append(f"{camera.device}  {camera.name}")
        lines.append(f"    source = \"{camera.source}\"")
        for path in camera.stable_paths:
            lines.append(f"    also: {path}")
        if camera.problem:
            lines.append(f"    modes: {camera.problem}")
        for mode in camera.modes:
            fps = f" @ {mode.max_fps:g} fps" if mode.max_fps else ""
            lines.append(f"    {mode.pixel_format} {mode.width}x{mode.height}{fps}")
    return lines
