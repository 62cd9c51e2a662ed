"""Offer candidates and their features for a whole population at once (pure numpy, no per-member loops).

The same code serves the kiosk (one member per scan), the offline evaluation (thousands of members) and
central batch scoring: `learn_stats` summarises all purchases, `build_candidates` turns members' own
histories plus those stats into one `CandidateTable` (one row per member x candidate product, with a
feature matrix), and the ranker scores that table.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from kiosk.services.purchase_log import NO_CATEGORY, PurchaseLog

RECENT_DAYS = 28  # "popular lately" window
DECAY = 0.9  # weight of a basket per newer basket of the same member (as TIFU-KNN's within-decay)
NEIGHBOURS = 20  # co-purchase partners kept per product
MIN_PAIR_BASKETS = 2
POPULAR_CANDIDATES = 30
RECENT_CANDIDATES = 20
COPURCHASE_CANDIDATES = 20
HISTORY_COPURCHASE_CANDIDATES = 10  # partners of anything the member bought, recent purchases weighing more
TOP_CATEGORIES = 5
CATEGORY_CANDIDATES = 5  # most bought products per liked category


class Source(enum.IntFlag):
    """Why a product became a candidate for a member (several at once are possible)."""

    OWN = 1  # the member bought it before
    POPULAR = 2
    RECENT = 4
    COPURCHASE = 8  # often in one basket with something of the member's last basket
    CATEGORY = 16  # among the most bought of one of the member's favourite categories
    EXTRA = 32  # given by the caller (experiments: e.g. member-to-member neighbours' products)


FEATURES = (
    "own_baskets_log", "own_share", "own_decayed", "never_bought", "in_last_basket", "days_since_log",
    "cycle_offset", "cycle_known", "popularity_log", "recent_popularity_log", "repeat_rate", "copurchase",
    "category_share", "member_baskets_log", "member_idle_log", "member_repeat_share",
    "copurchase_history", "trend", "member_idle_vs_cycle", "own_rank_log", "member_basket_size_log",
    "category_basket_share", "category_days_since_log",
)


@dataclass(frozen=True)
class PopulationStats:
    """What is learned from all purchases; arrays indexed by product code unless named otherwise."""

    as_of: int  # day the stats were learned for (recent popularity counts the RECENT_DAYS before it)
    popularity: np.ndarray  # baskets holding the product
    recent_popularity: np.ndarray  # the same within RECENT_DAYS before as_of
    repeat_rate: np.ndarray  # smoothed share of its buyers who bought it on >= 2 days
    cycle_days: np.ndarray  # median days between two purchases of it by one member (0 = unknown)
    neighbour: np.ndarray  # (n_products, NEIGHBOURS) co-purchase partners, -1 = none
    neighbour_weight: np.ndarray  # (n_products, NEIGHBOURS) P(partner in basket | product in basket)
    product_category: np.ndarray
    category_top: np.ndarray  # (n_categories, CATEGORY_CANDIDATES) most bought products, -1 = none
    popular_order: np.ndarray  # product codes, most baskets first
    recent_order: np.ndarray  # product codes, most recent baskets first

    @property
    def n_products(self) -> int:
        return len(self.popularity)


@dataclass(frozen=True)
class CandidateTable:
    """One row per (member, candidate product); rows of one member are contiguous, members in input order.

    `member` holds positions in the `customers` array given to build_candidates; `features` is
    (rows, len(FEATURES)) float64, `source` a Source bit set per row, `repeat` whether the member bought it.
    """

    member: np.ndarray
    product: np.ndarray
    features: np.ndarray
    source: np.ndarray
    repeat: np.ndarray
    member_start: np.ndarray  # (n_members + 1,) row offsets

    def __len__(self) -> int:
        return len(self.product)


def _group_last(codes: np.ndarray) -> np.ndarray:
    """Boolean mask of the last entry of each run of equal values in a sorted array."""
    last = np.ones(len(codes), dtype=bool)
    last[:-1] = codes[1:] != codes[:-1]
    return last


def _median_per_group(groups: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Median of `values` per group code 0..size-1 (0 where a group has no values)."""
    out = np.zeros(size)
    if not len(values):
        return out
    order = np.lexsort((values, groups))
    groups, values = groups[order], values[order]
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    counts = np.diff(np.r_[starts, len(groups)])
    lower = values[starts + (counts - 1) // 2]
    upper = values[starts + counts // 2]
    out[groups[starts]] = (lower + upper) / 2
    return out


@dataclass(frozen=True)
class StatsPartial:
    """What `learn_stats` counts, for one part of the members (all of a member's lines in one part).

    Why: a chain's purchases do not fit one process; each part (a Spark partition of members, say) is
    counted by this same code, parts are merged by adding their counts, and `finalise_stats` turns the sum
    into the PopulationStats one `learn_stats` over everything gives. Every field is a count, so merging is
    exact: medians of day gaps come from per-product histograms (`gap_code` = product << 32 | gap days).
    """

    as_of: int
    product_category: np.ndarray
    popularity: np.ndarray  # int64 per product: baskets holding it
    recent: np.ndarray  # int64 per product: the same within RECENT_DAYS before as_of
    buyers: np.ndarray  # int64 per product: members who bought it
    repeaters: np.ndarray  # int64 per product: members who bought it on >= 2 days
    gap_code: np.ndarray  # sorted distinct product << 32 | gap (days between two purchases, > 0)
    gap_count: np.ndarray
    pair_code: np.ndarray  # sorted distinct product_a * n_products + product_b of two products in one basket
    pair_count: np.ndarray  # baskets holding the pair (both orders listed)

    @property
    def n_products(self) -> int:
        return len(self.product_category)


GAP_BITS = 32


def _counted(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if not len(codes):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    values, counts = np.unique(codes, return_counts=True)
    return values.astype(np.int64), counts.astype(np.int64)


def partial_stats(log: PurchaseLog, as_of: int) -> StatsPartial:
    """Count what the stats need from `log` (one part of the members, or all of them)."""
    n = log.n_products
    popularity = np.bincount(log.product, minlength=n).astype(np.int64)
    recent = np.bincount(log.product[log.day >= as_of - RECENT_DAYS], minlength=n).astype(np.int64)
    # member x product runs, in time order: gaps between purchase days give repeat rates and cycles
    code = log.customer * n + log.product
    order = np.lexsort((log.day, code))
    code_sorted, day_sorted, product_sorted = code[order], log.day[order], log.product[order]
    same = code_sorted[1:] == code_sorted[:-1]
    gaps = (day_sorted[1:] - day_sorted[:-1])[same]
    gap_product = product_sorted[1:][same]
    keep = gaps > 0
    gap_code, gap_count = _counted((gap_product[keep] << GAP_BITS) | gaps[keep])
    first_of_pair = np.r_[True, ~same] if len(code_sorted) else np.zeros(0, dtype=bool)
    buyers = np.bincount(product_sorted[first_of_pair], minlength=n).astype(np.int64)
    repeat_pairs = first_of_pair & (np.r_[same, False] if len(code_sorted) else first_of_pair)  # bought again later
    repeaters = np.bincount(product_sorted[repeat_pairs], minlength=n).astype(np.int64)
    pair_code, pair_count = _pair_counts(log)
    return StatsPartial(as_of, log.product_category, popularity, recent, buyers, repeaters, gap_code, gap_count,
                        pair_code, pair_count)


def _merge_sparse(codes: list[np.ndarray], counts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    all_codes = np.concatenate(codes) if codes else np.zeros(0, dtype=np.int64)
    if not len(all_codes):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    values, inverse = np.unique(all_codes, return_inverse=True)
    return values, np.bincount(inverse, weights=np.concatenate(counts), minlength=len(values)).astype(np.int64)


def merge_partials(parts: list[StatsPartial]) -> StatsPartial:
    """The counts of all parts together (parts must hold disjoint members, same products and as_of)."""
    first = parts[0]
    if any(p.as_of != first.as_of or p.n_products != first.n_products for p in parts):
        raise ValueError("partial stats of other days or products cannot be merged")
    gap_code, gap_count = _merge_sparse([p.gap_code for p in parts], [p.gap_count for p in parts])
    pair_code, pair_count = _merge_sparse([p.pair_code for p in parts], [p.pair_count for p in parts])
    return StatsPartial(
        first.as_of, first.product_category, sum(p.popularity for p in parts), sum(p.recent for p in parts),
        sum(p.buyers for p in parts), sum(p.repeaters for p in parts), gap_code, gap_count, pair_code, pair_count,
    )


def finalise_stats(part: StatsPartial) -> PopulationStats:
    """The PopulationStats of (merged) counts."""
    n = part.n_products
    popularity = part.popularity.astype(float)
    recent = part.recent.astype(float)
    gap_product = np.repeat(part.gap_code >> GAP_BITS, part.gap_count)
    gaps = np.repeat(part.gap_code & ((1 << GAP_BITS) - 1), part.gap_count)
    cycle = _median_per_group(gap_product, gaps.astype(float), n)
    gap_count = np.bincount(gap_product, minlength=n)
    cycle[gap_count < 3] = 0.0  # fewer gaps say little about a product's usual interval
    buyers = part.buyers.astype(float)
    repeaters = part.repeaters.astype(float)
    overall = repeaters.sum() / max(buyers.sum(), 1.0)
    repeat_rate = (repeaters + 5 * overall) / (buyers + 5)
    neighbour, weight = _neighbours(part.pair_code, part.pair_count, part.popularity, n)
    popular_order = np.lexsort((np.arange(n), -popularity))
    recent_order = np.lexsort((np.arange(n), -popularity, -recent))
    return PopulationStats(part.as_of, popularity, recent, repeat_rate, cycle, neighbour, weight,
                           part.product_category, _category_top(part.product_category, popularity), popular_order,
                           recent_order)


def learn_stats(log: PurchaseLog, as_of: int) -> PopulationStats:
    """Summarise every purchase of `log` (all of it is before `as_of`)."""
    return finalise_stats(partial_stats(log, as_of))


def _category_top(product_category: np.ndarray, popularity: np.ndarray) -> np.ndarray:
    n_categories = int(product_category.max()) + 1 if len(product_category) and product_category.max() >= 0 else 0
    top = np.full((n_categories, CATEGORY_CANDIDATES), -1, dtype=np.int64)
    known = np.flatnonzero(product_category >= 0)
    if not len(known):
        return top
    order = known[np.lexsort((known, -popularity[known], product_category[known]))]
    cats = product_category[order]
    starts = np.flatnonzero(np.r_[True, cats[1:] != cats[:-1]])
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    keep = rank < CATEGORY_CANDIDATES
    top[cats[keep], rank[keep]] = order[keep]
    return top


def _pair_counts(log: PurchaseLog) -> tuple[np.ndarray, np.ndarray]:
    """Distinct codes a * n + b of two products in one basket (both orders) and the baskets holding each."""
    n = log.n_products
    basket, product = log.basket, log.product
    pair_codes = []
    shift = 1
    while shift < len(product):
        same = basket[shift:] == basket[:-shift]
        if not same.any():
            break
        a, b = product[:-shift][same], product[shift:][same]
        pair_codes.append(np.concatenate([a * n + b, b * n + a]))
        shift += 1
    return _counted(np.concatenate(pair_codes) if pair_codes else np.zeros(0, dtype=np.int64))


def _neighbours(codes: np.ndarray, counts: np.ndarray, baskets_with: np.ndarray, n: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """Top NEIGHBOURS partners per product by P(partner | product) over baskets (pairs in >= 2 baskets)."""
    neighbour = np.full((n, NEIGHBOURS), -1, dtype=np.int64)
    weight = np.zeros((n, NEIGHBOURS))
    keep = counts >= MIN_PAIR_BASKETS
    codes, counts = codes[keep], counts[keep]
    if not len(codes):
        return neighbour, weight
    a, b = codes // n, codes % n
    conditional = counts / baskets_with[a]
    order = np.lexsort((b, -conditional, a))
    a, b, conditional = a[order], b[order], conditional[order]
    starts = np.flatnonzero(np.r_[True, a[1:] != a[:-1]])
    rank = np.arange(len(a)) - np.repeat(starts, np.diff(np.r_[starts, len(a)]))
    keep = rank < NEIGHBOURS
    neighbour[a[keep], rank[keep]] = b[keep]
    weight[a[keep], rank[keep]] = conditional[keep]
    return neighbour, weight


def _lookup(sorted_codes: np.ndarray, values: np.ndarray, codes: np.ndarray, default: float = 0.0) -> np.ndarray:
    """values[i] where sorted_codes[i] == code, else default (vectorised dictionary lookup)."""
    if not len(sorted_codes):
        return np.full(len(codes), default, dtype=float)
    at = np.minimum(np.searchsorted(sorted_codes, codes), len(sorted_codes) - 1)
    return np.where(sorted_codes[at] == codes, values[at], default)


def build_candidates(
    log: PurchaseLog,
    customers: np.ndarray,
    as_of: np.ndarray,
    stats: PopulationStats,
    offerable: np.ndarray | None = None,
    extra: np.ndarray | None = None,
) -> CandidateTable:
    """Candidates and features for `customers` (codes) as of their `as_of` days, from their lines in `log`.

    `offerable` (bool per product) limits candidates to products that may be offered (e.g. those with a
    valid offer today); None means every product. A member without lines still gets popular candidates.
    `extra` (codes position * n_products + product, position in `customers`) adds candidates from elsewhere
    (Source.EXTRA; an experiment switch, None in the engine).
    """
    n = stats.n_products
    m = len(customers)
    allowed = np.ones(n, dtype=bool) if offerable is None else offerable
    row_of = np.full(log.n_customers, -1, dtype=np.int64)
    row_of[customers] = np.arange(m)
    lines = np.flatnonzero(row_of[log.customer] >= 0) if m else np.zeros(0, dtype=np.int64)
    member, product, day, basket = row_of[log.customer[lines]], log.product[lines], log.day[lines], log.basket[lines]
    # per member: baskets in time order, their positions counted from the newest
    new_basket = np.r_[True, basket[1:] != basket[:-1]] if len(basket) else np.zeros(0, dtype=bool)
    basket_member = member[new_basket]
    baskets = np.bincount(basket_member, minlength=m)
    basket_index = np.cumsum(new_basket) - 1
    first_basket = np.r_[0, np.cumsum(baskets)[:-1]]
    age = (baskets[member] - 1) - (basket_index - first_basket[member])  # 0 = the member's newest basket
    basket_day = day[new_basket]
    shopped = np.flatnonzero(baskets > 0)
    member_first_day = np.zeros(m, dtype=np.int64)
    member_last_day = np.zeros(m, dtype=np.int64)
    member_first_day[shopped] = basket_day[first_basket[shopped]]
    member_last_day[shopped] = basket_day[first_basket[shopped] + baskets[shopped] - 1]
    # own products: one row per (member, product)
    code = member * n + product
    order = np.lexsort((day, code))
    code_s, day_s, age_s = code[order], day[order], age[order]
    is_last = _group_last(code_s)
    own_code = code_s[is_last]
    own_count = np.bincount(np.cumsum(np.r_[True, code_s[1:] != code_s[:-1]]) - 1) if len(code_s) else np.zeros(0)
    first_day = day_s[np.r_[True, code_s[1:] != code_s[:-1]]] if len(code_s) else np.zeros(0, dtype=np.int64)
    own_last_day = day_s[is_last]
    group_id = np.cumsum(np.r_[True, code_s[1:] != code_s[:-1]]) - 1 if len(code_s) else np.zeros(0, dtype=np.int64)
    own_decayed = np.bincount(group_id, weights=DECAY ** age_s.astype(float)) if len(code_s) else np.zeros(0)
    own_in_last = np.bincount(group_id, weights=(age_s == 0).astype(float)) > 0 if len(code_s) else np.zeros(0, bool)
    own_recency = DECAY ** age_s[is_last].astype(float)  # weight of the member's latest purchase of it
    # rank of each own product within the member: most baskets first, recent ones before old ones
    own_member = own_code // n
    rank_order = np.lexsort((-own_decayed, -own_count, own_member)) if len(own_code) else np.zeros(0, dtype=np.int64)
    own_rank = np.zeros(len(own_code))
    if len(own_code):
        ranked_member = own_member[rank_order]
        starts_r = np.flatnonzero(np.r_[True, ranked_member[1:] != ranked_member[:-1]])
        own_rank[rank_order] = np.arange(len(own_code)) - np.repeat(starts_r, np.diff(np.r_[starts_r, len(own_code)]))
    # a member's repeat share: lines of their later baskets that repeat an earlier basket
    repeat_line = np.r_[False, code_s[1:] == code_s[:-1]] if len(code_s) else np.zeros(0, dtype=bool)
    later_line = age_s < (baskets[code_s // n] - 1) if len(code_s) else np.zeros(0, dtype=bool)
    member_of_s = code_s // n
    member_repeat = (np.bincount(member_of_s[repeat_line], minlength=m) + 0.2) / (
        np.bincount(member_of_s[later_line], minlength=m) + 1.0)
    # category shares per member
    categories = max(int(stats.product_category.max()) + 1, 1) if len(stats.product_category) else 1
    cat = stats.product_category[product]
    cat_code = member * categories + np.where(cat >= 0, cat, 0)
    cat_known = cat >= 0
    cat_codes, cat_counts = np.unique(cat_code[cat_known], return_counts=True)
    lines_per_member = np.bincount(member, minlength=m).astype(float)
    cat_share = cat_counts / np.maximum(lines_per_member[cat_codes // categories], 1.0)
    # per member and category: share of the member's baskets with it, and the last day they bought it
    cat_basket_code = basket[cat_known] * categories + cat[cat_known]
    distinct_lines = np.flatnonzero(cat_known)[np.unique(cat_basket_code, return_index=True)[1]]
    cb_codes = cat_code[distinct_lines]
    order_cb = np.lexsort((day[distinct_lines], cb_codes))
    cb_sorted, cb_day = cb_codes[order_cb], day[distinct_lines][order_cb]
    cb_last = _group_last(cb_sorted) if len(cb_sorted) else np.zeros(0, dtype=bool)
    cb_keys = cb_sorted[cb_last]
    cb_baskets = np.diff(np.r_[0, np.flatnonzero(cb_last) + 1]).astype(float)
    cb_last_day = cb_day[cb_last].astype(float)
    # co-purchase with the newest basket: sum of P(partner | product) over its products
    newest = age == 0
    partners = stats.neighbour[product[newest]]
    partner_weight = stats.neighbour_weight[product[newest]]
    partner_member = np.repeat(member[newest], NEIGHBOURS)
    valid = partners.ravel() >= 0
    co_code_all = partner_member[valid] * n + partners.ravel()[valid]
    co_codes, co_inverse = np.unique(co_code_all, return_inverse=True)
    co_score = np.bincount(co_inverse, weights=partner_weight.ravel()[valid], minlength=len(co_codes))
    # co-purchase with everything the member bought, each product weighted by how recently
    h_partners = stats.neighbour[own_code % n] if len(own_code) else np.zeros((0, NEIGHBOURS), dtype=np.int64)
    h_weight = stats.neighbour_weight[own_code % n] * own_recency[:, None] if len(own_code) else np.zeros((0, NEIGHBOURS))
    h_member = np.repeat(own_code // n, NEIGHBOURS)
    h_valid = h_partners.ravel() >= 0
    h_codes, h_inverse = np.unique(h_member[h_valid] * n + h_partners.ravel()[h_valid], return_inverse=True)
    h_score = np.bincount(h_inverse, weights=h_weight.ravel()[h_valid], minlength=len(h_codes))
    # candidate sets
    parts = [own_code[allowed[own_code % n]]]
    flags = [np.full(len(parts[0]), Source.OWN, dtype=np.int64)]
    everyone = np.arange(m)
    for pool, size, flag in ((stats.popular_order, POPULAR_CANDIDATES, Source.POPULAR),
                             (stats.recent_order, RECENT_CANDIDATES, Source.RECENT)):
        top = pool[allowed[pool]][:size]
        parts.append((everyone[:, None] * n + top[None, :]).ravel())
        flags.append(np.full(len(parts[-1]), flag, dtype=np.int64))
    for codes_all, scores_all, size in ((co_codes, co_score, COPURCHASE_CANDIDATES),
                                        (h_codes, h_score, HISTORY_COPURCHASE_CANDIDATES)):
        if not len(codes_all):
            continue
        keep = allowed[codes_all % n]
        codes_k, score_k = codes_all[keep], scores_all[keep]
        order_k = np.lexsort((-score_k, codes_k // n))
        codes_k = codes_k[order_k]
        mem_k = codes_k // n
        starts = np.flatnonzero(np.r_[True, mem_k[1:] != mem_k[:-1]]) if len(mem_k) else np.zeros(0, dtype=np.int64)
        rank = np.arange(len(codes_k)) - np.repeat(starts, np.diff(np.r_[starts, len(codes_k)]))
        parts.append(codes_k[rank < size])
        flags.append(np.full(len(parts[-1]), Source.COPURCHASE, dtype=np.int64))
    if len(cat_codes) and len(stats.category_top):
        order_c = np.lexsort((-cat_counts, cat_codes // categories))
        c_codes = cat_codes[order_c]
        mem_c = c_codes // categories
        starts = np.flatnonzero(np.r_[True, mem_c[1:] != mem_c[:-1]])
        rank = np.arange(len(c_codes)) - np.repeat(starts, np.diff(np.r_[starts, len(c_codes)]))
        liked = c_codes[rank < TOP_CATEGORIES]
        tops = stats.category_top[liked % categories]
        mem_rep = np.repeat(liked // categories, CATEGORY_CANDIDATES)
        flat = tops.ravel()
        ok = flat >= 0
        ok[ok] &= allowed[flat[ok]]
        parts.append(mem_rep[ok] * n + flat[ok])
        flags.append(np.full(len(parts[-1]), Source.CATEGORY, dtype=np.int64))
    if extra is not None and len(extra):
        extra = np.asarray(extra, dtype=np.int64)
        parts.append(extra[allowed[extra % n]])
        flags.append(np.full(len(parts[-1]), Source.EXTRA, dtype=np.int64))
    all_codes = np.concatenate(parts)
    all_flags = np.concatenate(flags)
    cand, inverse = np.unique(all_codes, return_inverse=True)
    source = np.zeros(len(cand), dtype=np.int64)
    np.bitwise_or.at(source, inverse, all_flags)
    c_member, c_product = cand // n, cand % n
    # features
    count = _lookup(own_code, own_count.astype(float), cand)
    repeat = count > 0
    last = _lookup(own_code, own_last_day.astype(float), cand)
    first = _lookup(own_code, first_day.astype(float), cand)
    member_as_of = as_of[c_member].astype(float)
    # a line dated after the offer day (a till clock ahead, tomorrow's import) counts as bought that day: a
    # negative 'days since' made cycle_offset log(0) or log(<0), and the member's scores NaN
    since = np.where(repeat, np.maximum(member_as_of - last, 0.0), 0.0)
    own_cycle = np.where(count >= 2, (last - first) / np.maximum(count - 1, 1), 0.0)
    cycle = np.where(own_cycle > 0, own_cycle, stats.cycle_days[c_product])
    cycle_known = repeat & (cycle > 0)
    cycle_offset = np.where(cycle_known, np.abs(np.log((since + 1) / (cycle + 1))), 0.0)
    member_baskets = baskets[c_member].astype(float)
    c_cat = stats.product_category[c_product]
    cat_key = c_member * categories + np.maximum(c_cat, 0)
    share = np.where(c_cat >= 0, _lookup(cat_codes, cat_share, cat_key), 0.0)
    cat_last = np.where(c_cat >= 0, _lookup(cb_keys, cb_last_day, cat_key), 0.0)
    idle = np.where(member_baskets > 0, member_as_of - member_last_day[c_member], 0.0)
    member_gap = np.where(member_baskets >= 2, (member_last_day[c_member] - member_first_day[c_member]) /
                          np.maximum(member_baskets - 1, 1), 0.0)
    basket_size = lines_per_member[c_member] / np.maximum(member_baskets, 1.0)
    features = np.column_stack([
        np.log1p(count),
        count / np.maximum(member_baskets, 1.0),
        _lookup(own_code, own_decayed, cand),
        (~repeat).astype(float),
        _lookup(own_code, own_in_last.astype(float), cand),
        np.log1p(np.maximum(since, 0.0)),
        cycle_offset,
        cycle_known.astype(float),
        np.log1p(stats.popularity[c_product]),
        np.log1p(stats.recent_popularity[c_product]),
        stats.repeat_rate[c_product],
        np.log1p(10 * _lookup(co_codes, co_score, cand)),
        share,
        np.log1p(member_baskets),
        np.log1p(np.maximum(idle, 0.0)),
        member_repeat[c_member],
        np.log1p(10 * _lookup(h_codes, h_score, cand)),
        np.log1p(stats.recent_popularity[c_product]) - np.log1p(stats.popularity[c_product]),
        np.where(member_gap > 0, np.log((np.maximum(idle, 0.0) + 1) / (member_gap + 1)), 0.0),
        np.where(repeat, np.log1p(_lookup(own_code, own_rank, cand)), 0.0),
        np.log1p(basket_size),
        np.where(c_cat >= 0, _lookup(cb_keys, cb_baskets, cat_key), 0.0) / np.maximum(member_baskets, 1.0),
        np.where((c_cat >= 0) & (cat_last > 0), np.log1p(np.maximum(member_as_of - cat_last, 0.0)), 0.0),
    ])
    member_start = np.r_[0, np.cumsum(np.bincount(c_member, minlength=m))]
    return CandidateTable(c_member, c_product, features, source, repeat, member_start)
