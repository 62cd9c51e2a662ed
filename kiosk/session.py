"""The shopper session state machine: what every input does in every state. Plain Python, no Qt.

States and inputs (anything not listed is ignored in that state):

| state      | card (known)  | card (unknown / malformed) | continue_as_guest | done     | feedback | timeout |
|------------|---------------|----------------------------|-------------------|----------|----------|---------|
| ATTRACT    | OFFERS        | CARD_ERROR                 | GUEST             | -        | THANKS   | -       |
| OFFERS     | OFFERS (new)* | CARD_ERROR                 | -                 | FEEDBACK | THANKS   | ATTRACT |
| GUEST      | OFFERS        | CARD_ERROR                 | -                 | FEEDBACK | THANKS   | ATTRACT |
| CARD_ERROR | OFFERS        | CARD_ERROR                 | GUEST             | ATTRACT  | THANKS   | ATTRACT |
| FEEDBACK   | OFFERS        | CARD_ERROR                 | -                 | ATTRACT  | THANKS   | ATTRACT |
| THANKS     | OFFERS        | CARD_ERROR                 | -                 | ATTRACT  | ignored  | ATTRACT |

* the same read again within `cards.rescan_ignore_s` (a double scan, or a QR code held in front of the
  camera frame after frame) is one scan: it only extends the current screen's timeout. After a touch
  (done, guest, feedback) a card read again is a new attempt; a QR code still in view stays one scan.
A feedback press is counted (face only, no identity) through `on_feedback`; presses during THANKS are
ignored so mashing a button is one vote.

Privacy inputs, in every state: `pause_mood_reading()` ("without mood reading") switches the camera's analysis
off for this visit and `privacy.mood_pause_after_s` after it (`SessionView.mood_paused`; the app closes the
vision gate and sets the board's light); `opt_in_mood()` on the offers screen (only when the store set
`offers.mood_reorder`, never while paused) lets the shopper's current mood (largest face) reorder their offers
and pick the subtitle's tone. Neither choice is stored: both live in this object and end with the visit.
Call every input from one thread (the UI thread); `tick(now)` drives timeouts with an injectable clock.
"""
from __future__ import annotations

import dataclasses
import enum
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Iterable, Protocol, Sequence

from contract.valence import mood_index
from kiosk.config import KioskConfig
from kiosk.errors import KioskError
from kiosk.mood_pause import MoodPause
from kiosk.services.cards import CardValidator, parse_qr_payload
from kiosk.services.records import Customer, Offer, OfferRule
from vision.callbacks import call_safely

logger = logging.getLogger(__name__)

FEEDBACK_FACES = ("happy", "neutral", "unhappy")
POSITIVE_MOODS = frozenset({"happy", "surprise"})
NEGATIVE_MOODS = frozenset({"sad", "angry", "fear", "disgust"})
SHOPPER_MOOD_MAX_AGE_S = 3.0  # an older reading says nothing about the person at the screen now


class State(enum.Enum):
    ATTRACT = "attract"
    OFFERS = "offers"
    GUEST = "guest"
    CARD_ERROR = "card_error"
    FEEDBACK = "feedback"
    THANKS = "thanks"


class Tone(enum.Enum):
    """How the offers screen speaks, chosen from the shopper's mood when it opens."""

    NEUTRAL = "neutral"
    UPBEAT = "upbeat"
    GENTLE = "gentle"


class MessageKey:
    """Translation keys of the main message per screen (the UI looks them up in kiosk/i18n)."""

    ATTRACT = "attract.invite"
    OFFERS = "offers.greeting"
    GUEST = "guest.greeting"
    CARD_UNKNOWN = "card.unknown"
    CARD_MALFORMED = "card.malformed"
    CARD_UNAVAILABLE = "card.unavailable"
    FEEDBACK = "feedback.ask"
    THANKS = "feedback.thanks"


@dataclass(frozen=True, slots=True)
class RoomMood:
    """The room's live mood for the attract screen: counts of current expression labels, no one identified."""

    people: int = 0
    counts: tuple[tuple[str, int], ...] = ()
    mood_index: float | None = None  # contract.valence.mood_index of the labelled faces; None when none


@dataclass(frozen=True, slots=True)
class SessionView:
    """Immutable snapshot the screens render; a new one is sent to listeners on every change."""

    state: State
    seq: int
    language: str
    message_key: str
    greeting_name: str | None = None
    offers: tuple[Offer, ...] = ()
    tone: Tone = Tone.NEUTRAL
    deadline: float | None = None  # clock time at which this screen times out
    room: RoomMood = field(default_factory=RoomMood)
    mood_paused: bool = False  # the shopper chose "without mood reading": nothing is analysed
    mood_opt_in: bool = False  # the shopper let their mood order their offers (this visit only)
    # The seq of the view that entered this screen (default: this view's own). A view changed in place (timeout
    # extended, offers reordered by the opt-in or back by the pause) keeps it: one visit, however often redrawn.
    entered: int | None = None

    def __post_init__(self) -> None:
        if self.entered is None:
            object.__setattr__(self, "entered", self.seq)


class CustomerLookup(Protocol):
    """What the session needs from the loyalty store (`kiosk.services.loyalty.LoyaltyStore`)."""

    def find_customer(self, card_id: str) -> Customer | None: ...


class OfferSource(Protocol):
    """What the session needs from the offer engine (`kiosk.services.offers.OfferEngine`)."""

    def offers_for(self, customer_id: int, today: date, limit: int, language: str | None = None) -> list[Offer]: ...

    def guest_offers(self, today: date, limit: int, language: str | None = None) -> list[Offer]: ...


def room_mood_from_labels(labels: Iterable[str | None]) -> RoomMood:
    """Count the current faces' labels (None = uncertain) into a RoomMood; the index is the published formula."""
    labels = list(labels)
    counts: dict[str, int] = {}
    for label in labels:
        if label is not None:
            counts[label] = counts.get(label, 0) + 1
    index = mood_index(counts)
    return RoomMood(len(labels), tuple(sorted(counts.items())), None if index is None else round(index, 3))


def mood_from_faces(faces: Sequence[Any]) -> tuple[list[str | None], str | None]:
    """(labels of all faces, label of the largest face) from `vision.types.Face`-like objects."""
    labels = [face.label for face in faces]
    if not faces:
        return labels, None
    largest = max(faces, key=lambda face: face.box.w * face.box.h)
    return labels, largest.label


def tone_for(mood: str | None) -> Tone:
    if mood in POSITIVE_MOODS:
        return Tone.UPBEAT
    if mood in NEGATIVE_MOODS:
        return Tone.GENTLE
    return Tone.NEUTRAL


def order_for_tone(offers: Sequence[Offer], tone: Tone) -> tuple[Offer, ...]:
    """Reorder within the session: upbeat shoppers see discoveries first, gentle ones the familiar and cheapest."""
    if tone is Tone.UPBEAT:
        return tuple(sorted(offers, key=lambda o: o.rule not in (OfferRule.TOGETHER, OfferRule.CATEGORY)))
    if tone is Tone.GENTLE:
        return tuple(sorted(offers, key=lambda o: (o.rule is not OfferRule.REPURCHASE, -(o.discount_percent or 0))))
    return tuple(offers)


class KioskSession:
    """Owns the shopper session; inputs change state, listeners get a new SessionView after each change."""

    def __init__(
        self,
        config: KioskConfig,
        loyalty: CustomerLookup,
        offers: OfferSource,
        clock: Callable[[], float] = time.monotonic,
        *,
        on_change: Callable[[SessionView], None] | None = None,
        on_feedback: Callable[[str], None] | None = None,
        today: Callable[[], date] = date.today,
        hasher: Callable[[str], str],
    ) -> None:
        """`hasher` is the keyed card hash, its key loaded once at start (`KioskConfig.card_hash_key`): the
        state machine itself reads and writes no file."""
        self._config = config
        self._loyalty = loyalty
        self._offers = offers
        self._clock = clock
        self._today = today
        self._validator = CardValidator.from_config(config.cards)
        self._hash = hasher
        self._listeners: list[Callable[[SessionView], None]] = [on_change] if on_change else []
        self._on_feedback = on_feedback
        self._lock = threading.RLock()
        self._timeouts = {
            State.OFFERS: config.timeouts.offers_s,
            State.GUEST: config.timeouts.guest_s,
            State.CARD_ERROR: config.timeouts.card_error_s,
            State.FEEDBACK: config.timeouts.feedback_s,
            State.THANKS: config.timeouts.thanks_s,
        }
        self._last_read: tuple[str, float] | None = None
        self._last_read_source: str | None = None
        self._shopper_mood: tuple[str | None, float] | None = None
        self._pause = MoodPause(config.privacy.mood_pause_after_s)
        self._ranked: tuple[Offer, ...] = ()  # the engine's order of the offers shown, before an opt-in reordered them
        self._view = SessionView(State.ATTRACT, 0, config.language, MessageKey.ATTRACT)

    # ----- outputs -------------------------------------------------------------------------------
    @property
    def view(self) -> SessionView:
        return self._view

    @property
    def state(self) -> State:
        return self._view.state

    def add_listener(self, listener: Callable[[SessionView], None]) -> None:
        self._listeners.append(listener)

    # ----- inputs --------------------------------------------------------------------------------
    def card_scanned(self, raw: str, source: str) -> None:
        """A card read from `source` ("wedge", "serial", "qr", ...); QR text that is not a card is ignored."""
        with self._lock:
            now = self._clock()
            if source == "qr":
                payload = parse_qr_payload(raw, self._config.cards.qr_prefix)
                if payload is None:
                    logger.debug("QR code that is not a loyalty card ignored")
                    return
                raw = payload
            if self._is_repeat(raw, source, now):
                self._extend(now)
                return
            check = self._validator.check(raw, source)
            if not check.valid or check.card_id is None:
                logger.info("Card read from %s rejected: %s", source, check.reason)
                self._enter(State.CARD_ERROR, now, MessageKey.CARD_MALFORMED)
                return
            self._open_card(check.card_id, source, now)

    def continue_as_guest(self) -> None:
        with self._lock:
            if self.state not in (State.ATTRACT, State.CARD_ERROR):
                return
            self._forget_last_read()
            now = self._clock()
            offers = self._safe_guest_offers(self._config.offers.max_offers, self._config.language)
            self._enter(State.GUEST, now, MessageKey.GUEST, offers=tuple(offers))

    def done(self) -> None:
        with self._lock:
            now = self._clock()
            self._forget_last_read()
            if self.state in (State.OFFERS, State.GUEST):
                self._enter(State.FEEDBACK, now, MessageKey.FEEDBACK, language=self._view.language)
            elif self.state in (State.CARD_ERROR, State.FEEDBACK, State.THANKS):
                self._enter(State.ATTRACT, now, MessageKey.ATTRACT)

    def feedback(self, face: str) -> None:
        """A press of one of the three faces (screen or peripheral button)."""
        with self._lock:
            if face not in FEEDBACK_FACES:
                logger.warning("Unknown feedback face %r ignored; expected one of %s", face, FEEDBACK_FACES)
                return
            if self.state is State.THANKS:
                return
            self._forget_last_read()
            call_safely(self._on_feedback, face, logger, "feedback counter")  # the thank-you comes regardless
            keep_language = self.state in (State.OFFERS, State.GUEST, State.FEEDBACK)
            language = self._view.language if keep_language else self._config.language
            self._enter(State.THANKS, self._clock(), MessageKey.THANKS, language=language)

    def activity(self) -> None:
        """The shopper touched the screen (scrolled, looked at an offer): restart the current timeout."""
        with self._lock:
            self._extend(self._clock())

    def pause_mood_reading(self) -> None:
        """The shopper pressed "without mood reading": analysis stops for their visit and a while after it."""
        with self._lock:
            now = self._clock()
            self._pause.start(now, self.state is not State.ATTRACT)
            self._shopper_mood = None
            logger.info("Mood reading paused by a shopper")  # no identity: not even the hashed card
            offers = self._ranked if self._view.mood_opt_in else self._view.offers  # the engine's order again
            self._publish(self._replace(
                mood_paused=True, mood_opt_in=False, room=RoomMood(), tone=Tone.NEUTRAL, offers=offers
            ))
            self._extend(now)

    def opt_in_mood(self) -> None:
        """The shopper agreed, for this visit, that their current mood may order their offers."""
        with self._lock:
            if (
                not self._config.offers.mood_reorder
                or self._pause.active
                or self.state not in (State.OFFERS, State.GUEST)
                or self._view.mood_opt_in
            ):
                return
            now = self._clock()
            tone = tone_for(self._fresh_shopper_mood(now))
            self._ranked = self._view.offers
            offers = order_for_tone(self._view.offers, tone)
            self._publish(self._replace(offers=offers, tone=tone, mood_opt_in=True))
            self._extend(now)

    def mood_update(self, labels: Sequence[str | None], shopper: str | None = None) -> None:
        """Current faces' labels (room) and the label of the person at the screen (largest face)."""
        with self._lock:
            now = self._clock()
            if self._pause.active:  # nothing is analysed while paused; a late frame says nothing either
                return
            self._shopper_mood = (shopper, now) if shopper is not None else self._shopper_mood
            room = room_mood_from_labels(labels)
            if room != self._view.room:
                self._publish(self._replace(room=room))

    def tick(self, now: float | None = None) -> None:
        """Apply timeouts as of `now` (default: the clock)."""
        with self._lock:
            now = self._clock() if now is None else now
            if self._pause.expire(now):
                logger.info("Mood reading resumed after the shopper's pause")
                self._publish(self._replace(mood_paused=False))
            deadline = self._view.deadline
            if deadline is not None and now >= deadline:
                logger.debug("Screen %s timed out", self.state.value)
                self._enter(State.ATTRACT, now, MessageKey.ATTRACT)

    # ----- internals -----------------------------------------------------------------------------
    def _forget_last_read(self) -> None:
        """After a deliberate touch a card read again is a new attempt; a QR code still in view stays one scan."""
        if self._last_read_source != "qr":
            self._last_read = None

    def _is_repeat(self, raw: str, source: str, now: float) -> bool:
        key = raw.strip()
        previous = self._last_read
        self._last_read = (key, now)
        self._last_read_source = source
        return (
            previous is not None
            and previous[0] == key
            and now - previous[1] <= self._config.cards.rescan_ignore_s
        )

    def _open_card(self, card_id: str, source: str, now: float) -> None:
        card = self._hash(card_id)
        try:
            customer = self._loyalty.find_customer(card_id)
        except KioskError as exc:
            logger.error("Loyalty lookup for %s failed: %s", card, exc)
            self._enter(State.CARD_ERROR, now, MessageKey.CARD_UNAVAILABLE)
            return
        if customer is None:
            logger.info("Unknown card %s from %s", card, source)
            self._enter(State.CARD_ERROR, now, MessageKey.CARD_UNKNOWN)
            return
        limit = self._config.offers.max_offers
        language = customer.language if customer.language in ("en", "de") else self._config.language
        try:
            offers = self._offers.offers_for(customer.customer_id, self._today(), limit, language)
        except KioskError as exc:
            logger.error("Offers for %s failed, showing generic ones: %s", card, exc)
            offers = self._safe_guest_offers(limit, language)
        # Logged in the engine's order, before the mood may reorder them: the log keeps the card's (hashed)
        # identity, so nothing in it may let one read the shopper's mood back.
        for rank, offer in enumerate(offers, 1):
            logger.info("Offer %d for %s: %s %s (%s)", rank, card, offer.offer_id, offer.title, offer.reason)
        self._enter(
            State.OFFERS, now, MessageKey.OFFERS, offers=tuple(offers), greeting_name=customer.first_name,
            language=language,
        )

    def _safe_guest_offers(self, limit: int, language: str) -> list[Offer]:
        try:
            return self._offers.guest_offers(self._today(), limit, language)
        except KioskError as exc:
            logger.error("Guest offers unavailable: %s", exc)
            return []

    def _fresh_shopper_mood(self, now: float) -> str | None:
        if self._shopper_mood is None:
            return None
        label, seen = self._shopper_mood
        return label if now - seen <= SHOPPER_MOOD_MAX_AGE_S else None

    def _extend(self, now: float) -> None:
        timeout = self._timeouts.get(self.state)
        if timeout is not None:
            self._publish(self._replace(deadline=now + timeout))

    def _enter(self, state: State, now: float, message_key: str, **fields: Any) -> None:
        """Switch screens; anything about the previous shopper (name, offers, mood) is dropped."""
        if state in (State.ATTRACT, State.THANKS, State.CARD_ERROR):
            self._shopper_mood = None
        if state is State.ATTRACT:
            self._pause.visit_ended(now)
        else:
            self._pause.visit_goes_on()
        timeout = self._timeouts.get(state)
        view = SessionView(
            state=state,
            seq=self._view.seq + 1,
            language=fields.pop("language", self._config.language),
            message_key=message_key,
            deadline=None if timeout is None else now + timeout,
            room=self._view.room,
            mood_paused=self._pause.active,
            mood_opt_in=False,  # the opt-in holds for the offers shown; any new screen asks again
            **fields,
        )
        logger.debug("Session %s -> %s", self._view.state.value, state.value)
        self._publish(view)

    def _replace(self, **changes: Any) -> SessionView:
        return dataclasses.replace(self._view, seq=self._view.seq + 1, **changes)

    def _publish(self, view: SessionView) -> None:
        self._view = view
        for listener in list(self._listeners):
            call_safely(listener, view, logger, "session listener")  # a broken view must not break the state machine
