"""The session state machine driven without a window, on a real SQLite loyalty store and the real offer engine."""
from __future__ import annotations

import dataclasses
import logging
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from kiosk.config import KioskConfig, parse_config
from kiosk.services.cards import CardHasher, ean13_check_digit
from kiosk.services.loyalty import LoyaltyStore
from kiosk.services.offers import OfferEngine
from kiosk.services.records import Offer, OfferRule
from kiosk.session import (
    KioskSession, MessageKey, SessionView, State, Tone, mood_from_faces, order_for_tone, room_mood_from_labels,
)
from vision.types import Box, Face

TODAY = date(2025, 6, 15)


def card(n: int) -> str:
    body = f"29{n:010d}"
    return body + ean13_check_digit(body)


ANNA, BEN, STRANGER = card(1), card(2), card(99)  # STRANGER is valid but not in the store


class Clock:
    """A hand-wound monotonic clock so timeouts are tested without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture()
def store(tmp_path: Path) -> LoyaltyStore:
    store = LoyaltyStore(tmp_path / "loyalty.sqlite")
    store.add_products([
        ("COF", "Filter coffee", "coffee", "drinks", "consumable", 7.0, None),
        ("MLK", "Whole milk", "milk", "dairy", "consumable", 4.0, None),
        ("CHS", "Gouda", "cheese", "dairy", "consumable", 7.0, None),
        ("BRD", "Bread", "bread", "bakery", "consumable", 3.0, None),
        ("JAM", "Jam", "spreads", "pantry", "consumable", 20.0, None),
        ("LAP", "Laptop", "laptops", "electronics", "durable", None, 1095),
    ])
    store.add_customers([(ANNA, "Anna", "de"), (BEN, "Ben", None)])
    ids, cards = store.sku_ids(), store.card_ids()
    t = TODAY.toordinal()
    rows = [(cards[ANNA], ids["COF"], t - ago, 1) for ago in (36, 29, 22, 15, 8)]
    rows += [(cards[ANNA], ids["CHS"], t - 3, 1), (cards[BEN], ids["LAP"], t - 4, 1)]
    rows += [(cards[BEN], ids[s], t - ago, 1) for ago in (30, 20) for s in ("BRD", "JAM")]
    store.add_purchases(rows)
    start, end = (TODAY - timedelta(days=3)).toordinal(), (TODAY + timedelta(days=10)).toordinal()
    store.replace_offers([
        ("o-cof", "Coffee", "coffee", 399, None, start, end, ids["COF"], None),
        ("o-mlk", "Milk -20%", "drinks", None, 20, start, end, ids["MLK"], None),
        ("o-chs", "Gouda", "star", 199, None, start, end, ids["CHS"], None),
        ("o-brd", "Bread -10%", "home", None, 10, start, end, ids["BRD"], None),
        ("o-jam", "Jam", "home", 149, None, start, end, ids["JAM"], None),
        ("o-lap", "Laptop", "computer", 69900, None, start, end, ids["LAP"], None),
    ], titles=[("o-cof", "de", "Kaffee"), ("o-mlk", "de", "Milch -20%")])
    yield store
    store.close()


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def config(tmp_path: Path) -> KioskConfig:
    return parse_config({"data_dir": str(tmp_path), "offers": {"max_offers": 4, "min_offers": 3}})


class Harness:
    def __init__(self, config: KioskConfig, store: LoyaltyStore, clock: Clock) -> None:
        self.views: list[SessionView] = []
        self.presses: list[str] = []
        self.clock = clock
        self.session = KioskSession(
            config, store, OfferEngine(store), clock, on_change=self.views.append,
            on_feedback=self.presses.append, today=lambda: TODAY, hasher=CardHasher(b"k" * 32),
        )

    @property
    def view(self) -> SessionView:
        return self.session.view

    def to(self, state: State) -> None:
        """Bring the session into `state` the way a shopper would."""
        s = self.session
        if state is State.ATTRACT:
            return
        if state is State.OFFERS:
            s.card_scanned(ANNA, "wedge")
        elif state is State.GUEST:
            s.continue_as_guest()
        elif state is State.CARD_ERROR:
            s.card_scanned(STRANGER, "wedge")
        elif state is State.FEEDBACK:
            s.card_scanned(ANNA, "wedge")
            s.done()
        elif state is State.THANKS:
            s.feedback("happy")
        assert s.state is state
        self.clock.advance(10)  # later inputs are not repeats of this one


@pytest.fixture()
def kiosk(config: KioskConfig, store: LoyaltyStore, clock: Clock) -> Harness:
    return Harness(config, store, clock)


def test_known_card_opens_personal_offers_in_the_shoppers_language(kiosk: Harness) -> None:
    kiosk.session.card_scanned(ANNA, "wedge")
    view = kiosk.view
    assert view.state is State.OFFERS and view.message_key == MessageKey.OFFERS
    assert view.greeting_name == "Anna" and view.language == "de"
    assert 3 <= len(view.offers) <= 4
    assert view.offers[0].offer_id == "o-cof" and view.offers[0].rule == "repurchase"
    assert view.offers[0].title == "Kaffee"  # Anna reads German: the catalogue's German title
    assert "o-chs" not in [o.offer_id for o in view.offers]  # Gouda bought 3 days ago: not due
    assert view.deadline == pytest.approx(kiosk.clock.now + 45.0)
    assert kiosk.views[-1] is view


def test_durable_just_bought_is_not_offered(kiosk: Harness) -> None:
    kiosk.session.card_scanned(BEN, "serial")
    offers = [o.offer_id for o in kiosk.view.offers]
    assert kiosk.view.greeting_name == "Ben" and kiosk.view.language == "en"  # no language: the store's
    assert "o-lap" not in offers and offers


def test_unknown_card_then_guest(kiosk: Harness) -> None:
    kiosk.session.card_scanned(STRANGER, "wedge")
    assert (kiosk.view.state, kiosk.view.message_key) == (State.CARD_ERROR, MessageKey.CARD_UNKNOWN)
    kiosk.session.continue_as_guest()
    assert kiosk.view.state is State.GUEST and kiosk.view.greeting_name is None
    assert "Coffee" in [o.title for o in kiosk.view.offers]  # in the kiosk's language, English
    assert len(kiosk.view.offers) == 4 and {o.rule for o in kiosk.view.offers} == {"popular"}


@pytest.mark.parametrize("raw", ["2900000000012", "12ab", "123", ""])
def test_malformed_reads_show_the_card_error(kiosk: Harness, raw: str) -> None:
    kiosk.session.card_scanned(raw, "wedge")
    assert (kiosk.view.state, kiosk.view.message_key) == (State.CARD_ERROR, MessageKey.CARD_MALFORMED)


def test_qr_card_opens_offers_and_foreign_qr_codes_are_ignored(kiosk: Harness) -> None:
    kiosk.session.card_scanned("https://example.org/menu", "qr")
    assert kiosk.views == [] and kiosk.view.state is State.ATTRACT
    kiosk.session.card_scanned(f"moodkiosk:card:{ANNA}", "qr")
    assert kiosk.view.state is State.OFFERS and kiosk.view.greeting_name == "Anna"


def test_a_qr_code_held_up_frame_after_frame_is_one_scan(kiosk: Harness) -> None:
    for _ in range(20):
        kiosk.session.card_scanned(f"moodkiosk:card:{ANNA}", "qr")
        kiosk.clock.advance(0.1)
    opened = [v for v in kiosk.views if v.state is State.OFFERS and v.message_key == MessageKey.OFFERS]
    assert len({v.offers for v in opened}) == 1
    assert sum(1 for a, b in zip(kiosk.views, kiosk.views[1:]) if a.state is not b.state) == 0
    assert kiosk.view.deadline == pytest.approx(kiosk.clock.now - 0.1 + 45.0)  # each repeat extends


def test_a_card_read_again_after_a_touch_is_a_new_attempt(kiosk: Harness) -> None:
    kiosk.session.card_scanned(STRANGER, "wedge")
    kiosk.session.done()
    kiosk.session.card_scanned(STRANGER, "wedge")  # at once, well within rescan_ignore_s
    assert kiosk.view.state is State.CARD_ERROR
    kiosk.session.card_scanned(f"moodkiosk:card:{ANNA}", "qr")
    kiosk.session.done()
    kiosk.session.done()
    kiosk.session.card_scanned(f"moodkiosk:card:{ANNA}", "qr")  # the phone is still in view
    assert kiosk.view.state is State.ATTRACT


def test_another_card_during_offers_starts_a_new_session(kiosk: Harness) -> None:
    kiosk.to(State.OFFERS)
    kiosk.session.card_scanned(BEN, "wedge")
    assert kiosk.view.state is State.OFFERS and kiosk.view.greeting_name == "Ben"


def test_done_feedback_thanks_and_back_to_attract(kiosk: Harness) -> None:
    kiosk.to(State.OFFERS)
    kiosk.session.done()
    assert kiosk.view.state is State.FEEDBACK and kiosk.view.language == "de"
    kiosk.session.feedback("happy")
    kiosk.session.feedback("unhappy")  # mashing during the thank-you is one vote
    kiosk.session.feedback("happy")
    assert kiosk.view.state is State.THANKS and kiosk.presses == ["happy"]
    kiosk.session.tick(kiosk.clock.now + 3.9)
    assert kiosk.view.state is State.THANKS
    kiosk.session.tick(kiosk.clock.now + 4.0)
    assert kiosk.view.state is State.ATTRACT
    assert kiosk.view.greeting_name is None and kiosk.view.offers == () and kiosk.view.deadline is None


def test_feedback_button_counts_in_any_screen_but_thanks(kiosk: Harness) -> None:
    kiosk.session.feedback("neutral")
    assert kiosk.view.state is State.THANKS and kiosk.presses == ["neutral"]
    kiosk.session.feedback("frowny")  # unknown face from a bad peripheral line: ignored, not counted
    assert kiosk.presses == ["neutral"]


@pytest.mark.parametrize("state, timeout", [
    (State.OFFERS, 45.0), (State.GUEST, 30.0), (State.CARD_ERROR, 15.0), (State.FEEDBACK, 20.0), (State.THANKS, 4.0),
])
def test_every_screen_times_out_to_attract(kiosk: Harness, state: State, timeout: float) -> None:
    kiosk.to(state)
    deadline = kiosk.view.deadline
    assert deadline is not None
    kiosk.session.tick(deadline - 0.01)
    assert kiosk.view.state is state
    kiosk.session.tick(deadline)
    assert kiosk.view.state is State.ATTRACT


def test_activity_extends_the_timeout(kiosk: Harness) -> None:
    kiosk.to(State.OFFERS)
    first = kiosk.view.deadline
    kiosk.clock.advance(30)
    kiosk.session.activity()
    assert kiosk.view.deadline == pytest.approx(kiosk.clock.now + 45.0) and kiosk.view.deadline > first
    kiosk.session.tick(first + 1)
    assert kiosk.view.state is State.OFFERS


# What each input does in each state (module docstring's table); None = ignored.
TRANSITIONS = {
    "known card": {s: State.OFFERS for s in State},
    "unknown card": {s: State.CARD_ERROR for s in State},
    "guest": {State.ATTRACT: State.GUEST, State.CARD_ERROR: State.GUEST},
    "done": {State.OFFERS: State.FEEDBACK, State.GUEST: State.FEEDBACK, State.CARD_ERROR: State.ATTRACT,
             State.FEEDBACK: State.ATTRACT, State.THANKS: State.ATTRACT},
    "feedback": {s: State.THANKS for s in State if s is not State.THANKS},
}


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("action", list(TRANSITIONS))
def test_transition_table(kiosk: Harness, state: State, action: str) -> None:
    kiosk.to(state)
    before = kiosk.view
    {
        "known card": lambda: kiosk.session.card_scanned(BEN, "wedge"),
        "unknown card": lambda: kiosk.session.card_scanned(STRANGER, "serial"),
        "guest": kiosk.session.continue_as_guest,
        "done": kiosk.session.done,
        "feedback": lambda: kiosk.session.feedback("happy"),
    }[action]()
    expected = TRANSITIONS[action].get(state)
    if expected is None:
        assert kiosk.view is before
    else:
        assert kiosk.view.state is expected and kiosk.view.seq > before.seq


def test_a_view_already_sent_never_changes_afterwards(kiosk: Harness) -> None:
    """A screen may keep the view it rendered: later events make new views and leave sent ones as they were."""
    kiosk.to(State.OFFERS)
    sent = kiosk.view
    fields = dataclasses.asdict(sent)
    kiosk.session.mood_update(["happy", "sad"], shopper="happy")
    kiosk.session.opt_in_mood()
    kiosk.session.done()
    kiosk.session.feedback("happy")
    assert kiosk.view is not sent and kiosk.view.seq > sent.seq
    assert dataclasses.asdict(sent) == fields and sent.state is State.OFFERS


@pytest.fixture()
def opt_in_kiosk(store: LoyaltyStore, clock: Clock, tmp_path: Path) -> Harness:
    """A store that offers shoppers the on-screen opt-in to mood-ordered offers."""
    return Harness(parse_config({"data_dir": str(tmp_path), "offers": {"mood_reorder": True}}), store, clock)


@pytest.mark.parametrize("mood, tone", [("happy", Tone.UPBEAT), ("sad", Tone.GENTLE), ("neutral", Tone.NEUTRAL)])
def test_shopper_mood_orders_offers_only_after_the_opt_in(opt_in_kiosk: Harness, mood: str, tone: Tone) -> None:
    kiosk = opt_in_kiosk
    kiosk.session.mood_update([mood, "neutral"], shopper=mood)
    kiosk.session.card_scanned(ANNA, "wedge")
    assert kiosk.view.tone is Tone.NEUTRAL and not kiosk.view.mood_opt_in  # nothing without the shopper's yes
    shown = kiosk.view.offers
    kiosk.session.opt_in_mood()
    assert kiosk.view.tone is tone and kiosk.view.mood_opt_in
    assert kiosk.view.offers == tuple(order_for_tone(list(shown), tone))
    assert kiosk.view.offers[0].rule is OfferRule.REPURCHASE  # Anna has no discoveries here, so coffee stays first


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory):
    """The bundled demo data: its personas get repurchase, together and category offers (rules engine)."""
    from kiosk.demo_data.generate import seed_demo

    folder = tmp_path_factory.mktemp("demo")
    with LoyaltyStore(folder / "demo.sqlite") as store:
        seed_demo(store, folder / "csv")
        yield store, OfferEngine(store), folder


def test_the_opt_in_order_differs_between_moods(demo_store) -> None:
    """The order half of the opt-in: on shoppers with discoveries and discounts, a happy and a sad mood give
    other orders than a neutral one (each the tone's order of the engine's ranking)."""
    store, engine, folder = demo_store
    config = parse_config({"data_dir": str(folder), "offers": {"mood_reorder": True}})
    orders: dict[tuple[str, str], list[str]] = {}
    for name, card in (("anna", "2900000000018"), ("emma", "2900000000056")):
        for mood in ("happy", "sad", "neutral"):
            session = KioskSession(config, store, engine, Clock(), hasher=CardHasher(b"k" * 32))
            session.mood_update([mood], shopper=mood)
            session.card_scanned(card, "wedge")
            ranked = session.view.offers
            session.opt_in_mood()
            assert session.view.offers == order_for_tone(ranked, session.view.tone)
            orders[name, mood] = [o.offer_id for o in session.view.offers]
    # Anna: due coffee first, then category picks, which a happy mood moves to the front.
    assert orders["anna", "happy"] != orders["anna", "neutral"]
    # Emma: discoveries first already; a sad mood puts the familiar, biggest discount first.
    assert orders["emma", "sad"] != orders["emma", "neutral"]
    emma = store.find_customer("2900000000056").customer_id
    assert {o.rule for o in engine.offers_for(emma, date.today(), 4)} >= {OfferRule.TOGETHER, OfferRule.CATEGORY}


def test_guest_opt_in_and_the_store_switch(opt_in_kiosk: Harness, store: LoyaltyStore, clock: Clock, tmp_path: Path) -> None:
    opt_in_kiosk.session.mood_update(["sad"], shopper="sad")
    opt_in_kiosk.session.continue_as_guest()
    assert opt_in_kiosk.view.state is State.GUEST and opt_in_kiosk.view.tone is Tone.NEUTRAL
    opt_in_kiosk.session.opt_in_mood()
    assert opt_in_kiosk.view.tone is Tone.GENTLE
    off = Harness(parse_config({"data_dir": str(tmp_path), "offers": {"mood_reorder": False}}), store, clock)
    assert parse_config({"data_dir": str(tmp_path)}).offers.mood_reorder is False  # off by default
    off.session.mood_update(["happy"], shopper="happy")
    off.session.card_scanned(ANNA, "wedge")
    off.session.opt_in_mood()  # the store did not allow it: the button is not shown and the input does nothing
    assert off.view.tone is Tone.NEUTRAL and not off.view.mood_opt_in


def test_opt_in_is_per_visit_and_never_carried_over(opt_in_kiosk: Harness) -> None:
    kiosk = opt_in_kiosk
    kiosk.session.mood_update(["happy"], shopper="happy")
    kiosk.session.card_scanned(ANNA, "wedge")
    kiosk.session.opt_in_mood()
    assert kiosk.view.mood_opt_in
    kiosk.session.done()
    kiosk.session.feedback("happy")
    kiosk.clock.advance(5)
    kiosk.session.tick()
    kiosk.session.mood_update(["happy"], shopper="happy")
    kiosk.session.card_scanned(BEN, "wedge")
    assert not kiosk.view.mood_opt_in and kiosk.view.tone is Tone.NEUTRAL


def test_stale_or_previous_shoppers_mood_is_not_used_after_opt_in(opt_in_kiosk: Harness) -> None:
    kiosk = opt_in_kiosk
    kiosk.session.mood_update(["happy"], shopper="happy")
    kiosk.clock.advance(3.5)
    kiosk.session.card_scanned(ANNA, "wedge")
    kiosk.session.opt_in_mood()
    assert kiosk.view.tone is Tone.NEUTRAL
    kiosk.session.mood_update(["sad"], shopper="sad")
    kiosk.session.done()
    kiosk.session.feedback("happy")  # THANKS drops the shopper's mood
    kiosk.clock.advance(1)
    kiosk.session.card_scanned(BEN, "wedge")
    kiosk.session.opt_in_mood()
    assert kiosk.view.tone is Tone.NEUTRAL


def test_without_mood_reading_lasts_the_visit_and_the_pause_after_it(opt_in_kiosk: Harness) -> None:
    kiosk = opt_in_kiosk  # [privacy] mood_pause_after_s = 120 by default
    kiosk.session.mood_update(["happy", "sad"], shopper="happy")
    kiosk.session.card_scanned(ANNA, "wedge")
    kiosk.session.pause_mood_reading()
    assert kiosk.view.mood_paused and kiosk.view.room.people == 0
    kiosk.session.mood_update(["happy"], shopper="happy")  # a late frame changes nothing while paused
    kiosk.session.opt_in_mood()  # and the opt-in is not offered while reading is off
    assert kiosk.view.room.people == 0 and not kiosk.view.mood_opt_in and kiosk.view.tone is Tone.NEUTRAL
    kiosk.clock.advance(40)
    kiosk.session.tick()
    assert kiosk.view.mood_paused  # still the visit
    kiosk.session.done()
    kiosk.session.feedback("happy")
    kiosk.clock.advance(4)
    kiosk.session.tick()  # thank-you over: back on attract, the pause runs 120 s from here
    assert kiosk.view.state is State.ATTRACT and kiosk.view.mood_paused
    kiosk.clock.advance(119)
    kiosk.session.tick()
    assert kiosk.view.mood_paused
    kiosk.clock.advance(1.5)
    kiosk.session.tick()
    assert not kiosk.view.mood_paused
    kiosk.session.mood_update(["happy"], shopper="happy")
    assert kiosk.view.room.people == 1


def test_pause_pressed_on_attract_holds_through_a_following_visit(kiosk: Harness) -> None:
    kiosk.session.pause_mood_reading()
    assert kiosk.view.mood_paused
    kiosk.clock.advance(100)
    kiosk.session.card_scanned(ANNA, "wedge")  # the visit starts within the pause: it holds for the visit
    kiosk.clock.advance(40)
    kiosk.session.tick()
    assert kiosk.view.state is State.OFFERS and kiosk.view.mood_paused
    kiosk.clock.advance(10)
    kiosk.session.tick()  # offers timed out (45 s): 120 s more from now
    assert kiosk.view.state is State.ATTRACT and kiosk.view.mood_paused
    kiosk.clock.advance(121)
    kiosk.session.tick()
    assert not kiosk.view.mood_paused


def _offer(offer_id: str, rule: str, discount: int | None = None) -> Offer:
    return Offer(offer_id, offer_id, "star", None if discount else 100, discount, TODAY, "c", "why", rule)


def test_order_for_tone() -> None:
    offers = [_offer("due", "repurchase"), _offer("pop", "popular", 30), _offer("new", "together"),
              _offer("cat", "category", 10)]
    assert [o.offer_id for o in order_for_tone(offers, Tone.NEUTRAL)] == ["due", "pop", "new", "cat"]
    assert [o.offer_id for o in order_for_tone(offers, Tone.UPBEAT)] == ["new", "cat", "due", "pop"]
    assert [o.offer_id for o in order_for_tone(offers, Tone.GENTLE)] == ["due", "pop", "cat", "new"]


def test_stale_or_previous_shoppers_mood_is_not_used(kiosk: Harness) -> None:
    kiosk.session.mood_update(["happy"], shopper="happy")
    kiosk.clock.advance(3.5)
    kiosk.session.card_scanned(ANNA, "wedge")
    assert kiosk.view.tone is Tone.NEUTRAL
    kiosk.session.mood_update(["sad"], shopper="sad")
    kiosk.session.done()
    kiosk.session.feedback("happy")  # THANKS drops the shopper's mood
    kiosk.clock.advance(1)
    kiosk.session.card_scanned(BEN, "wedge")
    assert kiosk.view.tone is Tone.NEUTRAL


def test_room_mood_notifies_only_on_change(kiosk: Harness) -> None:
    kiosk.session.mood_update(["happy", "sad", None])
    kiosk.session.mood_update(["sad", "happy", None])
    assert len(kiosk.views) == 1
    room = kiosk.view.room
    assert room.people == 3 and dict(room.counts) == {"happy": 1, "sad": 1} and room.mood_index == 0.0
    kiosk.session.mood_update([])
    assert kiosk.view.room == room_mood_from_labels([]) and len(kiosk.views) == 2


def test_mood_from_faces_takes_the_largest_face_as_the_shopper() -> None:
    faces = [Face(Box(0, 0, 40, 40), 0.9, label="sad"), Face(Box(200, 10, 120, 130), 0.8, label="happy"),
             Face(Box(400, 0, 60, 60), 0.95, label=None)]
    labels, shopper = mood_from_faces(faces)
    assert labels == ["sad", "happy", None] and shopper == "happy"
    assert mood_from_faces([]) == ([], None)


def test_no_card_number_in_clear_in_logs(kiosk: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    kiosk.session.card_scanned(ANNA, "wedge")
    kiosk.clock.advance(10)
    kiosk.session.card_scanned(STRANGER, "serial")
    kiosk.clock.advance(10)
    kiosk.session.card_scanned("2900000000012", "wedge")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert ANNA not in text and STRANGER not in text and "2900000000012" not in text
    assert CardHasher(b"k" * 32)(ANNA) in text  # staff can still follow one card through the log
    assert "repurchase" in text  # the offer reasons are logged for staff


def test_broken_loyalty_store_is_a_friendly_error(kiosk: Harness, store: LoyaltyStore) -> None:
    store.close()
    kiosk.session.card_scanned(ANNA, "wedge")
    assert (kiosk.view.state, kiosk.view.message_key) == (State.CARD_ERROR, MessageKey.CARD_UNAVAILABLE)


def test_a_failing_listener_does_not_break_the_session(kiosk: Harness) -> None:
    def broken(view: SessionView) -> None:
        raise RuntimeError("view bug")

    kiosk.session.add_listener(broken)
    kiosk.session.card_scanned(ANNA, "wedge")
    assert kiosk.view.state is State.OFFERS and kiosk.views[-1].state is State.OFFERS


@pytest.mark.parametrize("mood", ["happy", "sad", None])
def test_logged_offers_do_not_reveal_the_shoppers_mood(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, mood: str | None
) -> None:
    """The log names the (hashed) card, so it lists the engine's ranking, never the mood-reordered one.
    On the demo data Anna gets a due coffee and category picks, which a happy mood moves to the front."""
    from kiosk.demo_data.generate import seed_demo

    anna = "2900000000018"
    config = parse_config({"data_dir": str(tmp_path), "offers": {"mood_reorder": True}})
    with LoyaltyStore(tmp_path / "demo.sqlite") as store:
        seed_demo(store, tmp_path / "csv")
        engine = OfferEngine(store)
        ranked = [o.offer_id for o in engine.offers_for(store.find_customer(anna).customer_id, date.today(), 4, "de")]
        session = KioskSession(config, store, engine, Clock(), hasher=CardHasher(b"k" * 32))
        caplog.set_level(logging.INFO, logger="kiosk.session")
        if mood is not None:
            session.mood_update([mood], shopper=mood)
        session.card_scanned(anna, "wedge")
        session.opt_in_mood()  # the shopper agreed on screen
        shown = [o.offer_id for o in session.view.offers]
    logged = [r.args[2] for r in caplog.records if r.name == "kiosk.session" and r.getMessage().startswith("Offer ")]
    assert logged == ranked and sorted(shown) == sorted(ranked)
    if mood == "happy":  # the screen's order did change, so the check above means something
        assert shown != ranked


# Audit events of the file system: opening any file, and the os calls that make or change one.
_DISK_EVENTS = ("open", "os.mkdir", "os.chmod", "os.rename", "os.remove", "os.replace", "os.listdir", "os.scandir",
                "sqlite3.connect", "shutil.copyfile")
_disk_events: list[tuple[str, tuple]] | None = None


def _audit(event: str, args: tuple) -> None:
    if _disk_events is not None and event in _DISK_EVENTS:
        _disk_events.append((event, args))


def test_the_state_machine_constructor_touches_no_disk(tmp_path: Path, store: LoyaltyStore) -> None:
    """No card hash key file appears and no file is opened while the session is built: the key is loaded once at
    start (kiosk.app) and the hasher passed in as a value. The hook sees file opens (checked first)."""
    global _disk_events
    config = parse_config({"data_dir": str(tmp_path / "data")})
    engine = OfferEngine(store)
    sys.addaudithook(_audit)
    _disk_events = []
    try:
        (tmp_path / "probe").write_text("x")
        assert [e for e, _ in _disk_events] == ["open"]  # the hook can fail the check below
        _disk_events.clear()
        KioskSession(config, store, engine, Clock(), hasher=CardHasher(b"k" * 32))
        seen = list(_disk_events)
    finally:
        _disk_events = None
    assert seen == []
    assert not (tmp_path / "data").exists()
