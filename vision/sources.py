"""Frame sources (camera, video file, stream URL, image folder, bundled demo clip) and the capture thread.

The capture thread owns the source: it opens it, reopens a live one with back-off when it drops out, and
hands the newest frame over through a one-slot `FrameSlot` (an untaken older frame is dropped and counted,
so latency never queues up). Problems become `SourceEvent`s, not exceptions. Frames stay inside vision.
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Protocol
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from vision.callbacks import call_safely
from vision.errors import VisionError
from vision.settings import VisionSettings
from vision.types import SourceEvent

logger = logging.getLogger(__name__)

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
DEMO_CLIP = ASSETS_DIR / "demo_astronaut.mp4"
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm"})
URL_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "rtmp://", "udp://", "tcp://")


class SourceError(VisionError):
    """A frame source cannot be opened or read; the message names the source and the problem."""


class SourceOpenError(SourceError):
    """The source could not be opened (missing file, unreachable URL, no camera at that index)."""


class SourceLostError(SourceError):
    """A live source stopped delivering frames."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured frame: BGR uint8 pixels ``(H, W, 3)``, capture time (epoch seconds), running index."""

    image: np.ndarray
    timestamp: float
    index: int


class FrameSource(Protocol):
    """What the capture thread needs from a source."""

    name: str  # for messages; credentials in URLs are masked
    live: bool  # True: frames arrive in real time (drop old ones); False: a file read as fast as consumed
    pace_fps: float | None  # the capture thread paces reads to this rate (None: the source paces itself)

    def open(self) -> None: ...

    def read(self) -> Frame | None:
        """The next frame; None when a finite source has ended. Raises `SourceLostError` for a live one."""
        ...

    def close(self) -> None: ...


def redact(spec: str) -> str:
    """`spec` with any password in a URL replaced by ``***`` (source names end up in logs and the UI)."""
    if "://" not in spec:
        return spec
    parts = urlsplit(spec)
    if parts.password is None:
        return spec
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


@contextlib.contextmanager
def quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own log while opening: a missing camera makes it print several lines at every retry,
    where the capture thread already reports the failure once, in one line that names the source."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


class VideoCaptureSource:
    """A camera index, video file or stream URL read through OpenCV `VideoCapture` (FFmpeg for files/URLs)."""

    def __init__(self, target: int | str, kind: str, settings: VisionSettings, epoch: float | None = None) -> None:
        self._target = target
        self._kind = kind  # "camera" | "file" | "url"
        self._timeout_ms = int(settings.open_timeout_s * 1000)
        self._epoch_override = epoch
        self._cap: cv2.VideoCapture | None = None
        self._index = 0
        self._fps = 0.0
        self._epoch = 0.0
        self.name = f"{kind} {redact(str(target))}"
        self.live = kind != "file" or settings.realtime_files
        self.pace_fps: float | None = None

    def open(self) -> None:
        if self._kind == "file":
            path = Path(str(self._target))
            if not path.is_file():
                raise SourceOpenError(f"video file {path}: no such file")
        if self._kind == "camera" and isinstance(self._target, str) and not Path(self._target).exists():
            raise SourceOpenError(f"{self.name}: no such device (unplugged? `moodkiosk cameras` lists them)")
        with quiet_opencv():
            if self._kind == "camera" and isinstance(self._target, str):  # a device path, e.g. /dev/v4l/by-id/...
                cap = cv2.VideoCapture(self._target, cv2.CAP_V4L2)
            elif self._kind == "camera":
                cap = cv2.VideoCapture(int(self._target))
            else:
                params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, self._timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                          self._timeout_ms]
                cap = cv2.VideoCapture(str(self._target), cv2.CAP_FFMPEG, params)
        if not cap.isOpened():
            cap.release()
            problem = {
                "camera": "no camera at this index, or it is busy",
                "file": "not a video OpenCV can decode",
                "url": f"stream did not open within {self._timeout_ms / 1000:g} s",
            }[self._kind]
            raise SourceOpenError(f"{self.name}: {problem}")
        self._cap = cap
        self._index = 0
        self._fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if self._fps <= 0 or self._fps > 240:
            self._fps = 15.0
        self._epoch = self._epoch_override if self._epoch_override is not None else time.time()
        if self._kind == "file" and self.live:
            self.pace_fps = self._fps
        logger.info("opened %s (%.1f fps)", self.name, self._fps)

    def read(self) -> Frame | None:
        if self._cap is None:
            raise SourceLostError(f"{self.name}: not open")
        ok, image = self._cap.read()
        if not ok or image is None:
            if self._kind == "file":
                return None
            raise SourceLostError(f"{self.name}: no frame (camera unplugged or stream dropped)")
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        if self._kind == "file":
            # Media time, anchored at the moment the file was opened: windows follow the video, not the CPU.
            stamp = self._epoch + self._index / self._fps
        else:
            stamp = time.time()
        frame = Frame(image, stamp, self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class ImageFolderSource:
    """Images of a folder in name order, one frame each at `folder_fps`; unreadable files are skipped."""

    def __init__(self, folder: Path, settings: VisionSettings, epoch: float | None = None) -> None:
        self._folder = folder
        self._fps = settings.folder_fps
        self._epoch_override = epoch
        self._files: list[Path] = []
        self._pos = 0
        self._index = 0
        self._epoch = 0.0
        self.name = f"image folder {folder}"
        self.live = settings.realtime_files
        self.pace_fps: float | None = self._fps if self.live else None

    def open(self) -> None:
        if not self._folder.is_dir():
            raise SourceOpenError(f"{self.name}: no such folder")
        self._files = sorted(p for p in self._folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not self._files:
            raise SourceOpenError(f"{self.name}: no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        self._pos = 0
        self._index = 0
        self._epoch = self._epoch_override if self._epoch_override is not None else time.time()

    def read(self) -> Frame | None:
        while self._pos < len(self._files):
            path = self._files[self._pos]
            self._pos += 1
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                logger.warning("image %s: unreadable, skipped", path)
                continue
            frame = Frame(image, self._epoch + self._index / self._fps, self._index)
            self._index += 1
            return frame
        return None

    def close(self) -> None:
        self._files = []


class DemoSource:
    """The bundled public-domain demo clip, looped forever at `demo_fps` like a live camera."""

    def __init__(self, settings: VisionSettings, clip: Path = DEMO_CLIP) -> None:
        self._clip = clip
        self._cap: cv2.VideoCapture | None = None
        self._index = 0
        self.name = "demo clip"
        self.live = True
        self.pace_fps: float | None = settings.demo_fps

    def open(self) -> None:
        cap = cv2.VideoCapture(str(self._clip), cv2.CAP_FFMPEG)
        if not cap.isOpened():
            cap.release()
            raise SourceOpenError(f"demo clip {self._clip}: missing or not decodable")
        self._cap = cap

    def read(self) -> Frame | None:
        if self._cap is None:
            raise SourceLostError("demo clip: not open")
        ok, image = self._cap.read()
        if not ok:  # end of the clip: rewind and go on
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = self._cap.read()
            if not ok:
                raise SourceLostError(f"demo clip {self._clip}: cannot rewind")
        frame = Frame(image, time.time(), self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def open_source(spec: str, settings: VisionSettings, epoch: float | None = None) -> FrameSource:
    """The source a spec names (not opened yet): ``demo``, a camera index, a URL, a folder or a video file.

    `epoch` anchors the timestamps of files and folders (default: the time they are opened).
    """
    text = str(spec).strip()
    if not text:
        raise SourceOpenError("source: empty source spec")
    if text == "demo":
        return DemoSource(settings)
    if text.isascii() and text.isdigit():
        return VideoCaptureSource(int(text), "camera", settings)
    if text.lower().startswith(URL_SCHEMES):
        return VideoCaptureSource(text, "url", settings)
    path = Path(text).expanduser()
    if text.startswith("/dev/"):  # a V4L2 device node; /dev/v4l/by-id/... names survive replugging
        return VideoCaptureSource(str(path), "camera", settings)
    if path.is_dir():
        return ImageFolderSource(path, settings, epoch)
    if "://" in text:
        raise SourceOpenError(f"source {redact(text)}: unsupported URL scheme (use one of {', '.join(URL_SCHEMES)})")
    return VideoCaptureSource(path, "file", settings, epoch)


class FrameSlot:
    """One-slot hand-over between the capture thread and the worker.

    A live producer replaces an untaken frame (the old one is dropped and counted); a file producer waits
    until the slot is free, so a file is analysed frame by frame.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._finished = False
        self.dropped = 0
        self.delivered = 0

    def put(self, frame: Frame, wait: bool, stop: threading.Event) -> None:
        with self._cond:
            if wait:
                while self._frame is not None and not stop.is_set():
                    self._cond.wait(0.1)
            elif self._frame is not None:
                self.dropped += 1
            self._frame = frame
            self._cond.notify_all()

    def take(self, timeout: float) -> Frame | None:
        """The newest frame, or None after `timeout` seconds or once the producer has finished."""
        with self._cond:
            if self._frame is None and not self._finished:
                self._cond.wait(timeout)
            frame, self._frame = self._frame, None
            if frame is not None:
                self.delivered += 1
            self._cond.notify_all()
            return frame

    def finish(self) -> None:
        """No more frames will come (the source ended or capture stopped)."""
        with self._cond:
            self._finished = True
            self._cond.notify_all()

    @property
    def finished(self) -> bool:
        with self._cond:
            return self._finished and self._frame is None


class CaptureThread:
    """Owns a source in its own thread: open, read, hand over, reopen with back-off, report events."""

    def __init__(
        self,
        source: FrameSource,
        slot: FrameSlot,
        settings: VisionSettings,
        on_event: Callable[[SourceEvent], None],
        stop: threading.Event,
    ) -> None:
        self._source = source
        self._slot = slot
        self._settings = settings
        self._on_event = on_event
        self._stop = stop
        self._thread = threading.Thread(target=self._run, name="vision-capture", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _emit(self, kind: str, message: str) -> None:
        call_safely(self._on_event, SourceEvent(kind, self._source.name, message),  # type: ignore[arg-type]
                    logger, "source event callback")  # a faulty callback must not kill capture

    def _run(self) -> None:
        delay = self._settings.reconnect_initial_s
        down = False
        try:
            while not self._stop.is_set():
                try:
                    self._source.open()
                except (SourceError, cv2.error, OSError) as exc:  # a backend's own error is an outage too
                    if not down:
                        logger.warning("%s", _one_line(exc))
                    self._emit("down", _one_line(exc))
                    down = True
                    if not self._source.live:
                        self._emit("ended", f"{self._source.name}: gave up, a file does not come back")
                        return
                    self._stop.wait(delay)
                    delay = min(delay * 2, self._settings.reconnect_max_s)
                    continue
                if down:
                    logger.info("%s is back", self._source.name)
                self._emit("up", f"{self._source.name}: frames flowing")
                down = False
                delay = self._settings.reconnect_initial_s
                try:
                    ended = self._pump()
                except (SourceError, cv2.error, OSError) as exc:
                    logger.warning("%s", _one_line(exc))
                    self._emit("down", _one_line(exc))
                    down = True
                    ended = False
                finally:
                    self._source.close()
                if ended:
                    self._emit("ended", f"{self._source.name}: end of input")
                    return
                if down:
                    self._stop.wait(delay)
                    delay = min(delay * 2, self._settings.reconnect_max_s)
        except Exception:  # never a capture thread that dies without a word: the kiosk shows the camera down
            logger.exception("%s: capture crashed", self._source.name)
            self._emit("down", f"{self._source.name}: capture crashed; see the log")
        finally:
            self._slot.finish()

    def _pump(self) -> bool:
        """Read frames until stop (False) or the end of a finite source (True)."""
        pace = self._source.pace_fps
        next_due = time.monotonic()
        wait = not self._source.live
        while not self._stop.is_set():
            frame = self._source.read()
            if frame is None:
                return True
            self._slot.put(frame, wait, self._stop)
            if pace:
                next_due += 1.0 / pace
                now = time.monotonic()
                if next_due < now - 1.0:  # fell far behind (slow machine): do not burst to catch up
                    next_due = now
                self._stop.wait(max(0.0, next_due - now))
        return False


def _one_line(exc: BaseException) -> str:
    """An outage message for the log and the service line: OpenCV's errors span several lines."""
    lines = [line.strip(" >-") for line in str(exc).splitlines() if line.strip(" >-")]
    return "; ".join(lines[:3])[:300] or type(exc).__name__
