"""The printable sign: `moodkiosk privacy-sign` writes an A4 SVG in German and English from the config; the SVG
is rendered with Qt's SVG renderer and its QR code read back with OpenCV."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import cv2
import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

from kiosk.cli import main

SVG = "{http://www.w3.org/2000/svg}"


def test_sign_in_german_and_english_from_the_config(qtbot, tmp_path, capsys):  # qtbot: a QApplication to paint with
    config = tmp_path / "kiosk.toml"
    config.write_text(
        f'data_dir = "{tmp_path}"\n[mood]\nk_anonymity = 5\n[privacy]\n'
        'controller = "Beispiel Markt AG, Hauptstr. 2, 80331 München"\ncontact = "datenschutz@markt.example"\n'
        'privacy_url = "https://markt.example/datenschutz"\n', encoding="utf-8")
    out = tmp_path / "sign.svg"
    assert main(["privacy-sign", "--config", str(config), "--out", str(out)]) == 0
    root = ET.parse(out).getroot()
    assert root.get("width") == "210.0mm"
    text = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "Kamera mit Emotionserkennung" in text and "Camera with emotion recognition" in text
    assert text.count("Beispiel Markt AG") == 2 and text.count("datenschutz@markt.example") == 2
    assert "mindestens 5 Personen" in text and "at least 5 people" in text
    assert "Art. 50" in text
    assert "more than 10 minutes (staff)" in text and "till" not in text  # no zones configured: none claimed
    renderer = QSvgRenderer(str(out))
    assert renderer.isValid()
    image = QImage(1240, 1754, QImage.Format.Format_Grayscale8)  # A4 at 150 dpi
    image.fill(QColor("white"))
    painter = QPainter(image)
    renderer.render(painter, QRectF(0, 0, 1240, 1754))
    painter.end()
    array = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())[:, :image.width()]
    decoded, _points, _ = cv2.QRCodeDetector().detectAndDecode(np.ascontiguousarray(array))
    assert decoded == "https://markt.example/datenschutz"


def test_bad_output_path_is_one_line(tmp_path, capsys):
    assert main(["privacy-sign", "--out", str(tmp_path / "nope" / "sign.svg")]) == 2
    err = capsys.readouterr().err
    assert "--out: folder" in err and err.count("\n") == 1
    assert main(["privacy-sign", "--out", str(tmp_path / "sign.pdf")]) == 2
    assert "must end in .svg" in capsys.readouterr().err


def test_privacy_zones_are_shown_over_a_live_frame_and_nothing_is_saved(qtbot, tmp_path, capsys, monkeypatch):
    from vision.sources import DEMO_CLIP

    monkeypatch.chdir(tmp_path)
    config = tmp_path / "kiosk.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[camera]\n'
                      'privacy_zones = [[[0.0, 0.0], [0.3, 0.0], [0.3, 1.0], [0.0, 1.0]], [[0.7, 0.6], [1, 0.6], [1, 1]]]\n')
    before = set(tmp_path.rglob("*"))
    assert main(["privacy-zones", "--config", str(config), "--source", str(DEMO_CLIP), "--seconds", "0.3"]) == 0
    assert "2 privacy zone(s) shown (nothing saved)" in capsys.readouterr().out
    assert set(tmp_path.rglob("*")) == before  # no frame, no file of any kind was written


def test_privacy_zones_command_bad_input_is_one_line(tmp_path, capsys):
    config = tmp_path / "kiosk.toml"
    config.write_text('[camera]\nprivacy_zones = [[[0, 0], [0.5, 0], [0.5, -0.1]]]\n')
    assert main(["privacy-zones", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "camera.privacy_zones: zone 1: point 3 [0.5, -0.1] lies outside the frame" in err and err.count("\n") == 1
    assert main(["privacy-zones", "--source", str(tmp_path / "missing.mp4"), "--seconds", "1"]) == 2
    assert "missing.mp4" in capsys.readouterr().err
