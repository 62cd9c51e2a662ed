"""Kiosk offer counts: sessions, offers shown by rule/category and feedback after offers, reported per day as
k-anonymous offers.v1 values (counts below k withheld), kept on disk for a week only."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from contract.offers import encode_offers, validate_offers
from kiosk.services.offer_stats import KEEP_DAYS, OfferStats
from kiosk.services.records import Offer
from kiosk.session import SessionView, State

DAY = date(2026, 5, 4)


def _offer(offer_id: str, rule: str, category: str) -> Offer:
    return Offer(offer_id, offer_id, "star", 100, None, DAY, category, "why", rule)


def _view(state: State, seq: int, offers: tuple[Offer, ...] = ()) -> SessionView:
    return SessionView(state=state, seq=seq, language="en", message_key="x", offers=offers)


def test_counts_sessions_offers_and_feedback_after_offers(tmp_path: Path) -> None:
    today = [DAY]
    stats = OfferStats(tmp_path / "offers.sqlite", "s001", "k01", k=3, today=lambda: today[0])
    card_offers = (_offer("a", "repurchase", "coffee"), _offer("b", "popular", "bakery"))
    seq = 0
    for i in range(4):  # four card shoppers; each presses ☹️ on the feedback screen
        seq += 1
        view = _view(State.OFFERS, seq, card_offers)
        stats.on_view(view)
        stats.on_view(replace(view, seq=seq + 1, deadline=5.0))  # timeout extended: the same session
        stats.on_view(_view(State.FEEDBACK, seq + 2))
        stats.on_feedback("unhappy")
        stats.on_view(_view(State.THANKS, seq + 3))
        seq += 3
    stats.on_view(_view(State.GUEST, seq + 1, (_offer("c", "popular", "bakery"),)))  # one guest: below k
    stats.on_view(_view(State.ATTRACT, seq + 2))
    stats.on_feedback("happy")  # pressed on the attract screen: not after offers
    [report] = stats.reports()
    assert (report.card_sessions, report.guest_sessions) == (4, 0)
    assert {(o.rule, o.category): o.count for o in report.offers_shown} == {
        ("repurchase", "coffee"): 4, ("popular", "bakery"): 5}
    assert dict(report.feedback_after_offers) == {"happy": 0, "neutral": 0, "unhappy": 4}
    assert report.suppressed == 1  # the single guest session
    validate_offers(report.to_document())  # central would accept it
    assert encode_offers(report)

    today[0] = DAY + timedelta(days=KEEP_DAYS)
    stats.on_view(_view(State.GUEST, 99, ()))
    assert [r.day for r in stats.reports()] == [today[0]]  # a week later the first day is gone
    stats.close()


def test_a_screen_extended_or_refreshed_is_one_session(tmp_path: Path) -> None:
    stats = OfferStats(tmp_path / "offers.sqlite", "s001", "k01", k=2, today=lambda: DAY)
    offers = (_offer("a", "together", "dairy"),)
    first = _view(State.OFFERS, 1, offers)
    stats.on_view(first)
    stats.on_view(replace(first, seq=2, deadline=99.0))  # the same screen, timeout extended
    stats.on_view(_view(State.OFFERS, 3, (_offer("a", "together", "dairy"),)))  # a new card scan
    [report] = stats.reports()
    assert report.card_sessions == 2 and report.offers_shown[0].count == 2


def test_a_cell_seen_by_fewer_than_k_shoppers_is_withheld_however_many_offers_it_held(tmp_path: Path) -> None:
    """k counts shoppers, not offers: one card holder shown four offers of one category (say, pregnancy tests)
    must not make that category a published cell of 4 >= k; k sessions seeing it do."""
    stats = OfferStats(tmp_path / "offers.sqlite", "s001", "k01", k=3, today=lambda: DAY)
    private = tuple(_offer(f"p{i}", "repurchase", "pregnancy tests") for i in range(4))
    stats.on_view(_view(State.OFFERS, 1, private))
    stats.on_view(_view(State.ATTRACT, 2))
    [report] = stats.reports()
    assert report.offers_shown == () and report.card_sessions == 0
    assert report.suppressed == 2  # the session count and the cell
    seq = 2
    for _ in range(2):  # two more shoppers see it: three sessions, and every offer they saw is counted
        stats.on_view(_view(State.OFFERS, seq + 1, private[:1]))
        stats.on_view(_view(State.ATTRACT, seq + 2))
        seq += 2
    [report] = stats.reports()
    assert [(o.category, o.count) for o in report.offers_shown] == [("pregnancy tests", 6)]
    stats.close()


def _sessions(stats: OfferStats, offers_per_session: list[tuple[Offer, ...]]) -> None:
    for seq, offers in enumerate(offers_per_session):
        stats.on_view(_view(State.OFFERS, 2 * seq + 1, offers))
        stats.on_view(_view(State.ATTRACT, 2 * seq + 2))


def test_the_report_fits_the_contract_whatever_the_catalogue_categories(tmp_path: Path) -> None:
    """offers.v1 allows 40 characters of category, 4096 bytes and a suppressed count up to 1000; the catalogue
    has no such limits. Before, two categories alike in their first 40 characters became one rule/category pair
    twice, and 60 long (or non-Latin) categories made a 5.5 KB report: either way encode_offers refused the day
    and central got no offer counts at all."""
    stats = OfferStats(tmp_path / "alike.sqlite", "s001", "k01", k=2, today=lambda: DAY)
    alike = (_offer("a", "popular", "Molkereiprodukte und Käse aus der Region - Bio"),
             _offer("b", "popular", "Molkereiprodukte und Käse aus der Region - konventionell"))
    _sessions(stats, [alike] * 3)
    [report] = stats.reports()
    assert [(o.category, o.count) for o in report.offers_shown] == [("Molkereiprodukte und Käse aus der Region", 6)]
    assert encode_offers(report)

    stats = OfferStats(tmp_path / "long.sqlite", "s001", "k01", k=2, today=lambda: DAY)
    categories = [f"有机食品和饮料类别第{j:02d}号，来自本地区的农场和牧场，新鲜直送" for j in range(70)]
    _sessions(stats, [tuple(_offer(f"o{j}", "repurchase", c) for j, c in enumerate(categories[i:i + 5]))
                      for i in range(0, 70, 5) for _ in range(2)])
    [report] = stats.reports()
    payload = encode_offers(report)  # fits the 4096 bytes: the smallest cells are withheld instead
    assert 0 < len(report.offers_shown) < 60 and len(payload) <= 4096
    assert report.suppressed == 70 - len(report.offers_shown)

    stats = OfferStats(tmp_path / "many.sqlite", "s001", "k01", k=2, today=lambda: DAY)
    _sessions(stats, [(_offer("a", "category", f"c{i}"),) for i in range(1200)])  # 1200 cells of one session each
    [report] = stats.reports()
    assert report.offers_shown == () and report.suppressed == 1000  # the most offers.v1 can say
    assert encode_offers(report)


def test_offers_reordered_by_the_mood_opt_in_or_the_pause_are_still_one_session(tmp_path: Path) -> None:
    """The opt-in reorders the shown offers and the pause puts the engine's order back (the session replaces
    its view, a new offers tuple each time): before, each was counted as another card session and another
    session seeing every cell, so one shopper pressing both made a cell 'seen by 3 sessions' (k = 3)."""
    stats = OfferStats(tmp_path / "offers.sqlite", "s001", "k01", k=3, today=lambda: DAY)
    offers = (_offer("a", "repurchase", "pregnancy tests"), _offer("b", "popular", "bakery"))
    shown = _view(State.OFFERS, 1, offers)
    stats.on_view(shown)
    reordered = replace(shown, seq=2, offers=offers[::-1], mood_opt_in=True)  # what KioskSession.opt_in_mood sends
    stats.on_view(reordered)
    stats.on_view(replace(reordered, seq=3, offers=tuple(offers), mood_opt_in=False, mood_paused=True))  # the pause
    stats.on_view(_view(State.ATTRACT, 4))
    [report] = stats.reports()
    assert (report.card_sessions, report.offers_shown) == (0, ())  # one shopper: everything below k = 3
    _sessions(stats, [offers, offers])  # two more shoppers: now three sessions, each offer shown three times
    [report] = stats.reports()
    assert report.card_sessions == 3
    assert sorted((o.category, o.count) for o in report.offers_shown) == [("bakery", 3), ("pregnancy tests", 3)]
    stats.close()
