"""A plain window that shows one camera frame (BGR) until it is closed: the privacy-zones preview's screen."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEventLoop, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import QApplication, QLabel


def show_frame(image: np.ndarray, title: str, width: int, height: int, seconds: float | None) -> None:
    """Show the BGR frame in a window until it is closed, Esc is pressed or `seconds` pass (memory only)."""
    app = QApplication.instance() or QApplication([])  # noqa: F841 (kept alive while shown)
    loop = QEventLoop()

    class FrameWindow(QLabel):
        def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt name)
            loop.quit()
            super().closeEvent(event)

    rgb = image[:, :, ::-1].copy()
    qimage = QImage(rgb.data, rgb.shape[1], rgb.shape[0], rgb.strides[0], QImage.Format.Format_RGB888)
    window = FrameWindow()
    window.setWindowTitle(title)
    window.setAlignment(Qt.AlignmentFlag.AlignCenter)
    window.setPixmap(QPixmap.fromImage(qimage).scaled(width, height, Qt.AspectRatioMode.KeepAspectRatio,
                                                      Qt.TransformationMode.SmoothTransformation))
    window.resize(width, height)
    QShortcut(QKeySequence(Qt.Key.Key_Escape), window, activated=window.close)
    window.show()
    if seconds is not None:
        QTimer.singleShot(round(seconds * 1000), window.close)
    loop.exec()
    window.deleteLater()
