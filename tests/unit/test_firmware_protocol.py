"""Both codecs (firmware's MicroPython one and the kiosk's) against firmware/test_vectors.json."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.fake_machine import install

install()

from app import protocol as fw  # noqa: E402  (firmware package, importable after install())

from kiosk.services import peripheral_codec as host  # noqa: E402

VECTORS = json.loads((Path(__file__).resolve().parents[2] / "firmware" / "test_vectors.json").read_text())


def _raw(vector: dict) -> bytes:
    return vector["frame"].encode() if "frame" in vector else bytes.fromhex(vector["frame_hex"])


def test_crc_check_value() -> None:
    assert fw.crc16(b"123456789") == int(VECTORS["crc"]["check_123456789"], 16)
    assert host.crc16(b"123456789") == int(VECTORS["crc"]["check_123456789"], 16)


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda v: v["frame"].strip())
def test_valid_frames_encode_and_decode_on_both_sides(vector: dict) -> None:
    raw = vector["frame"].encode()
    payload = tuple(vector["payload"])
    assert fw.encode(vector["type"], vector["seq"], payload) == raw
    assert fw.decode(raw[:-1]) == (vector["type"], vector["seq"], payload)
    frame = host.Frame(vector["type"], vector["seq"], payload)
    assert host.encode(frame) == raw
    assert host.decode(raw[:-1]) == frame


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=lambda v: v["why"])
def test_invalid_frames_are_refused_by_both_sides(vector: dict) -> None:
    raw = _raw(vector)
    fw_lines = fw.LineReader().feed(raw)
    host_lines = host.LineSplitter().feed(raw)
    assert fw_lines == host_lines
    for line in fw_lines:
        with pytest.raises(fw.ProtocolError):
            fw.decode(line)
        with pytest.raises(host.FrameError):
            host.decode(line)


def test_noisy_stream_yields_exactly_the_good_frames_byte_by_byte_and_at_once() -> None:
    stream = bytes.fromhex(VECTORS["stream"]["bytes_hex"])
    expected = [f.encode() for f in VECTORS["stream"]["decoded"]]
    for chunk in (len(stream), 1, 7):
        for reader, decode, error in (
            (fw.LineReader(), fw.decode, fw.ProtocolError),
            (host.LineSplitter(), host.decode, host.FrameError),
        ):
            good = []
            for start in range(0, len(stream), chunk):
                for line in reader.feed(stream[start : start + chunk]):
                    try:
                        decode(line)
                    except error:
                        continue
                    good.append(line + b"\n")
            assert good == expected, (chunk, reader)
            assert reader.overflows == 1


def test_encoder_refuses_what_it_cannot_frame() -> None:
    with pytest.raises(fw.ProtocolError):
        fw.encode("BTN", 1, ("two words",))
    with pytest.raises(fw.ProtocolError):
        fw.encode("CARD", 1, ("A" * 100,))
    with pytest.raises(host.FrameError, match="payload token"):
        host.encode(host.Frame("BTN", 1, ("a*b",)))
    with pytest.raises(host.FrameError, match="out of range"):
        host.encode(host.Frame("BTN", 70000, ("happy",)))


def test_sequence_numbers_wrap_past_zero() -> None:
    assert fw.next_seq(65535) == 1
    assert fw.next_seq(1) == 2


def test_uid_validation() -> None:
    assert host.valid_uid("04A1B2C3") and host.valid_uid("04223344556680")
    assert not host.valid_uid("04a1b2c3") and not host.valid_uid("04A1B2") and not host.valid_uid("")


def test_frames_quoted_in_protocol_md_are_the_test_vectors() -> None:
    doc = (Path(__file__).resolve().parents[2] / "firmware" / "PROTOCOL.md").read_text()
    quoted = [line.split("`")[1] for line in doc.splitlines() if line.startswith("| `") and " *" in line]
    known = {v["frame"].strip() for v in VECTORS["valid"]} | {v.get("frame", "").strip() for v in VECTORS["invalid"]}
    assert len(quoted) >= 5 and set(quoted) <= known
