"""Translation files: both languages carry the same keys and placeholders, and every key the code uses exists."""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from kiosk.i18n import LANGUAGES, TranslationError, load_translator, placeholders, read_texts
from contract import FEEDBACK_FACES
from kiosk.services.records import ReasonKind
from kiosk.session import MessageKey, Tone
from kiosk.status import SERVICE_PARTS
from kiosk.ui.views.offers import REDEEM_MODES

KIOSK = Path(__file__).resolve().parents[2] / "kiosk"


def test_languages_have_the_same_keys_and_placeholders():
    en, de = read_texts("en"), read_texts("de")
    assert sorted(en) == sorted(de)
    for key in en:
        assert placeholders(en[key]) == placeholders(de[key]), key
        assert en[key].strip() and de[key].strip(), key


# Keys the code builds with an f-string, by the string's shape, and every value the placeholder can take: the
# enums and tuples the code itself reads them from. A new f-string key shape fails the test until listed here.
def _built_keys() -> dict[str, set[str]]:
    card_errors = [MessageKey.CARD_UNKNOWN, MessageKey.CARD_MALFORMED, MessageKey.CARD_UNAVAILABLE]
    return {
        "service.{}.{}": {f"service.{part}.{status.value}" for part, kind in SERVICE_PARTS.items() for status in kind},
        # reason_text handles CYCLE before its f-string (cycle.day/days/week/weeks or regular)
        "reason.{}": {f"reason.{kind.value}" for kind in ReasonKind if kind is not ReasonKind.CYCLE},
        "offers.redeem.{}": {f"offers.redeem.{mode}" for mode in REDEEM_MODES},
        "{}.body": {f"{key}.body" for key in card_errors},
        "feedback.{}": {f"feedback.{face}" for face in FEEDBACK_FACES},
    }


def test_every_key_used_in_code_exists():
    texts = read_texts("en")
    used, shapes = set(), set()
    for path in list((KIOSK / "ui").rglob("*.py")) + [KIOSK / "app.py"]:
        code = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'\bt\(\s*"([a-z_.]+)"', code))
        shapes |= {re.sub(r"\{[^}]*\}", "{}", shape) for shape in re.findall(r'\bt\(\s*f"([^"]+)"', code)}
    built = _built_keys()
    assert shapes == set(built), "an f-string key shape without the values it takes: add it to _built_keys"
    for keys in built.values():
        used |= keys
    used |= {v for k, v in vars(MessageKey).items() if k.isupper()}
    used |= {f"offers.subtitle.{tone.value}" for tone in Tone}
    assert len(used) > 50
    assert sorted(used - set(texts)) == []


def test_the_service_line_has_a_text_for_every_status():
    """The keys are built from the enums, so a status added to kiosk/status.py without its text fails here."""
    texts = read_texts("de")
    for part, kind in SERVICE_PARTS.items():
        assert [s for s in kind if f"service.{part}.{s.value}" not in texts] == []


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
