"""Shopper-facing texts: one JSON file per language, looked up by key, with locale-aware money and dates."""
from __future__ import annotations

import json
import logging
import string
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from typing import Mapping

from kiosk.errors import KioskError

logger = logging.getLogger(__name__)

LANGUAGES = ("en", "de")


class TranslationError(KioskError):
    """A language is not shipped or its translation file is broken."""


@dataclass(frozen=True)
class Translator:
    """Texts of one language; a missing key shows the key (and logs once) instead of failing a shopper screen."""

    language: str
    texts: Mapping[str, str]
    _missing: set[str] = field(default_factory=set, compare=False, repr=False)

    def text(self, key: str, **values: object) -> str:
        template = self.texts.get(key)
        if template is None:
            if key not in self._missing:
                self._missing.add(key)
                logger.warning("No %s text for key %s", self.language, key)
            return key
        if not values:
            return template
        try:
            return template.format(**values)
        except (KeyError, IndexError, ValueError):
            logger.warning("The %s text %s does not fit the values %s", self.language, key, sorted(values))
            return template

    __call__ = text

    def people(self, count: int) -> str:
        """'Nobody in view' / '1 person in view' / 'N people in view'."""
        if count <= 0:
            return self.text("mood.people.none")
        if count == 1:
            return self.text("mood.people.one")
        return self.text("mood.people.other", count=count)

    def money(self, cents: int) -> str:
        """Cents as the store's currency, e.g. '€2.49' or '2,49 €'."""
        amount = f"{cents // 100}{self.text('format.decimal')}{cents % 100:02d}"
        return self.text("format.currency", amount=amount)

    def date(self, value: date) -> str:
        """A date as the language writes it, e.g. '30/11/2026' or '30.11.2026'."""
        return self.text("format.date", day=f"{value.day:02d}", month=f"{value.month:02d}", year=value.year)


def placeholders(template: str) -> set[str]:
    """The `{name}` fields of a template (used by the tests that keep languages in step)."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def read_texts(language: str) -> dict[str, str]:
    """The raw key -> text mapping of a shipped language file."""
    if language not in LANGUAGES:
        raise TranslationError(f"language {language!r} is not shipped; expected one of {', '.join(LANGUAGES)}")
    name = f"{language}.json"
    try:
        raw = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
        data = json.loads(raw)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TranslationError(f"translation file {name} cannot be read: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise TranslationError(f"translation file {name} must be one JSON object of text keys to strings")
    return data


def load_translator(language: str) -> Translator:
    """The translator of a shipped language ('en' or 'de')."""
    return Translator(language, read_texts(language))
