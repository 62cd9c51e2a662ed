"""Translation files: both languages carry the same keys and placeholders, and every key the code uses exists."""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from kiosk.i18n import LANGUAGES, TranslationError, load_translator, placeholders, read_texts
from kiosk.session import MessageKey

KIOSK = Path(__file__).resolve().parents[2] / "kiosk"


def test_languages_have_the_same_keys_and_placeholders():
    en, de = read_texts("en"), read_texts("de")
    assert sorted(en) == sorted(de)
    for key in en:
        assert placeholders(en[key]) == placeholders(de[key]), key
        assert en[key].strip() and de[key].strip(), key


def test_every_key_used_in_code_exists():
    texts = read_texts("en")
    used = set()
    for path in list((KIOSK / "ui").rglob("*.py")) + [KIOSK / "app.py"]:
        used |= set(re.findall(r'\bt\(\s*"([a-z_.]+)"', path.read_text(encoding="utf-8")))
    used |= {v for k, v in vars(MessageKey).items() if k.isupper()}
    error_keys = [MessageKey.CARD_UNKNOWN, MessageKey.CARD_MALFORMED, MessageKey.CARD_UNAVAILABLE]
    used |= {f"{key}.body" for key in error_keys}
    used |= {f"offers.subtitle.{tone}" for tone in ("neutral", "upbeat", "gentle")}
    used |= {f"feedback.{face}" for face in ("happy", "neutral", "unhappy")}
    assert len(used) > 25
    assert sorted(used - set(texts)) == []


def test_camera_notice_is_the_agreed_text():
    """Issue 4: moods estimated on this device, no images kept, and what the moods are used for."""
    assert read_texts("en")["privacy.camera_on"] == (
        "This kiosk's camera estimates moods on this device, to show the mood in the store and improve our "
        "service. No images are stored or sent. Only anonymous counts leave the kiosk."
    )
    assert "only if you agree on screen, to order your offers" in read_texts("en")["privacy.camera_on_offers"]
    for key in ("privacy.camera_on", "privacy.camera_on_offers"):
        assert "keine Bilder" in read_texts("de")[key] and "Service zu verbessern" in read_texts("de")[key]
    assert "Ihre Angebote zu ordnen" in read_texts("de")["privacy.camera_on_offers"]


@pytest.mark.parametrize("reorder", [True, False])
def test_shown_notice_says_what_the_moods_are_used_for(qtbot, make_config, start_app, reorder):
    app = start_app(make_config(camera={"enabled": True}, offers={"mood_reorder": reorder}))
    notice = app.window.notice.text()
    assert "to show the mood in the store" in notice and "No images are stored or sent" in notice
    assert ("order your offers" in notice) is reorder


def test_money_dates_and_people_per_language():
    en, de = load_translator("en"), load_translator("de")
    assert (en.money(249), de.money(249)) == ("€2.49", "2,49 €")
    assert (en.money(1205), de.money(5)) == ("€12.05", "0,05 €")
    assert (en.date(date(2026, 3, 7)), de.date(date(2026, 3, 7))) == ("07/03/2026", "07.03.2026")
    assert [en.people(n) for n in (0, 1, 4)] == ["Nobody in view", "1 person in view", "4 people in view"]


def test_missing_key_shows_the_key_not_a_crash():
    assert load_translator("en").text("no.such.key") == "no.such.key"


def test_unknown_language_is_a_clear_error():
    with pytest.raises(TranslationError, match="language 'fr' is not shipped"):
        load_translator("fr")
    assert LANGUAGES == ("en", "de")
