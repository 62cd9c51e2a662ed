"""The offer snapshot file: one store's precomputed offers per member, as central's `offers-build` writes it.

Why a file format of its own: the kiosk must keep working offline, so chain-wide offers reach it as a file
(copied, synced or downloaded) that it checks completely before it uses any of it.

Format (gzip-compressed JSON lines, UTF-8), in this order:
1. ``{"kind": "header", "format": "moodkiosk-offers", "version": 1, "store_id": ..., "built_at": ...,
   "built_for": "YYYY-MM-DD", "engine": ..., "members": N, "offers": M}``
2. M lines ``{"kind": "offer", ...}``: the catalogue items the members' offers refer to (titles per language,
   icon, price or discount, validity, the category the kiosk groups by);
3. N lines ``{"kind": "member", "member": "card:<keyed hash>", "offers": [[offer_id, rule, reason, score, why], ...]}``,
   best first; `why` is the reason the kiosk shows the shopper (``{"kind", "days", "anchor", "anchor_offer"}``
   or null; version 1 files have no `why`). Members are keyed by the kiosk's keyed card hash (`CardHasher`),
   never by a clear card number;
4. ``{"kind": "end", "lines": N + M + 1, "sha256": ...}``: SHA-256 of every byte before this line (uncompressed).

A reader trusts nothing before the end line has matched: `read_snapshot` yields the lines as typed values and
raises `SnapshotError` (file, line, problem) on the first bad one, including a bad or missing checksum at the end,
so an importer that writes inside one transaction simply rolls back.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import zlib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Iterable, Iterator, Literal

import contract
from contract.operator_files import require_regular_file
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from kiosk.errors import KioskError
from kiosk.services.records import MAX_ID_CHARS, MAX_TEXT_CHARS, OfferRule, refuse_control_characters

FORMAT = "moodkiosk-offers"
VERSION = 2  # 2: member offers carry the shopper reason, offers the regular price; 1 is still read
SUFFIX = ".offers.jsonl.gz"
MEMBER_KEY = re.compile(r"card:[0-9a-f]{16}")
RULES = ("repurchase", "together", "category", "popular")
MAX_LINE_BYTES = 64 * 1024


# Text that reaches the screen or the log: no line break, escape or other control character (as in the CSVs).
Text = Annotated[str, AfterValidator(refuse_control_characters)]


class SnapshotError(KioskError):
    """An offer snapshot is unreadable, damaged or not meant for this kiosk; nothing of it was used."""


class _Line(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SnapshotHeader(_Line):
    kind: Literal["header"] = "header"
    format: Literal["moodkiosk-offers"] = FORMAT
    version: Literal[1, 2] = VERSION
    store_id: Annotated[str, Field(pattern=contract.ID_PATTERN.pattern)]
    built_at: AwareDatetime  # compared with the current snapshot's time: one without a zone cannot be
    built_for: date
    engine: Annotated[Text, Field(min_length=1, max_length=40)]
    members: Annotated[int, Field(ge=0)]
    offers: Annotated[int, Field(ge=0)]


class SnapshotOffer(_Line):
    """A catalogue item as the kiosk shows it (the member lines refer to it by `offer_id`)."""

    kind: Literal["offer"] = "offer"
    offer_id: Annotated[Text, Field(min_length=1, max_length=MAX_ID_CHARS)]
    title: Annotated[Text, Field(min_length=1, max_length=MAX_TEXT_CHARS)]
    titles: tuple[tuple[Annotated[str, Field(pattern=r"^[a-z]{2}$")], Annotated[Text, Field(min_length=1, max_length=MAX_TEXT_CHARS)]], ...] = ()
    icon: Annotated[Text, Field(min_length=1, max_length=MAX_ID_CHARS)]
    price_cents: Annotated[int, Field(ge=0, le=10_000_000)] | None
    discount_percent: Annotated[int, Field(ge=1, le=100)] | None
    valid_from: date
    valid_until: date
    category: Annotated[Text, Field(max_length=MAX_TEXT_CHARS)]
    regular_price_cents: Annotated[int, Field(ge=0, le=10_000_000)] | None = None


class SnapshotReason(_Line):
    """The reason line the shopper sees (kiosk.services.records.OfferReason)."""

    kind: Literal["cycle", "regular", "goes_with", "category", "popular"]
    days: Annotated[int, Field(ge=1, le=100_000)] | None = None
    anchor: Annotated[Text, Field(min_length=1, max_length=MAX_TEXT_CHARS)] | None = None
    anchor_offer: Annotated[Text, Field(min_length=1, max_length=MAX_ID_CHARS)] | None = None  # translates `anchor`


class MemberOffer(_Line):
    offer_id: Annotated[Text, Field(min_length=1, max_length=MAX_ID_CHARS)]
    rule: OfferRule
    reason: Annotated[Text, Field(max_length=500)]
    score: Annotated[float, Field(allow_inf_nan=False)]  # JSON's NaN would reach SQLite as NULL
    why: SnapshotReason | None = None


class SnapshotMember(_Line):
    kind: Literal["member"] = "member"
    member: Annotated[str, Field(pattern=MEMBER_KEY.pattern)]
    offers: tuple[MemberOffer, ...]


class SnapshotEnd(_Line):
    kind: Literal["end"] = "end"
    lines: Annotated[int, Field(ge=1)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


@dataclass(frozen=True, slots=True)
class WrittenSnapshot:
    path: Path
    store_id: str
    members: int
    offers: int
    sha256: str


def snapshot_name(store_id: str, built_at: datetime) -> str:
    """File name that sorts by build time within a store: `<store>-<YYYYmmddTHHMMSS>.offers.jsonl.gz`."""
    return f"{store_id}-{built_at.strftime('%Y%m%dT%H%M%S')}{SUFFIX}"


def _member_line(member: SnapshotMember) -> dict[str, object]:
    return {"kind": "member", "member": member.member,
            "offers": [[o.offer_id, o.rule, o.reason, o.score,
                        o.why.model_dump(mode="json", exclude_none=True) if o.why else None] for o in member.offers]}


def write_snapshot(
    path: Path, header: SnapshotHeader, offers: Iterable[SnapshotOffer], members: Iterable[SnapshotMember]
) -> WrittenSnapshot:
    """Write a snapshot atomically (temporary file, fsync, rename): a kiosk never sees half a file.

    `header.members` / `header.offers` must match what the iterables yield; checked before the rename.
    """
    digest = hashlib.sha256()
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    lines = 0
    counts = {"offer": 0, "member": 0}
    try:
        with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as out:
            def emit(obj: object) -> None:
                nonlocal lines
                data = (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
                digest.update(data)
                out.write(data)
                lines += 1

            emit(header.model_dump(mode="json"))
            for offer in offers:
                emit(offer.model_dump(mode="json"))
                counts["offer"] += 1
            for member in members:
                emit(_member_line(member))
                counts["member"] += 1
            if (counts["offer"], counts["member"]) != (header.offers, header.members):
                raise SnapshotError(
                    f"{path}: header says {header.offers} offers / {header.members} members, "
                    f"wrote {counts['offer']} / {counts['member']}"
                )
            checksum = digest.hexdigest()
            out.write((json.dumps({"kind": "end", "lines": lines, "sha256": checksum}) + "\n").encode("utf-8"))
            out.flush()
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return WrittenSnapshot(path, header.store_id, counts["member"], counts["offer"], checksum)


def read_snapshot(path: Path) -> Iterator[SnapshotHeader | SnapshotOffer | SnapshotMember | SnapshotEnd]:
    """Yield the header, offers, members and the end line of a snapshot, each checked.

    Raises SnapshotError naming the file and line on the first problem: not gzip, a line that is not JSON or
    not of the format, lines out of order, a member's offer not in the snapshot's catalogue, counts that do not
    match the header, a missing end line or a checksum that does not match. The end line comes last, so a
    consumer must not commit anything before the generator is exhausted.
    """
    path = Path(path)
    digest = hashlib.sha256()
    header: SnapshotHeader | None = None
    offer_ids: dict[str, int] = {}  # offer id -> its line
    member_keys: dict[str, int] = {}  # member key -> its line
    members = 0
    number = 0
    try:
        require_regular_file(path)
        with gzip.open(path, "rb") as handle:
            # readline with a bound: a gzip bomb of one endless line must not be held in memory whole
            for number, data in enumerate(iter(lambda: handle.readline(MAX_LINE_BYTES + 1), b""), start=1):
                if len(data) > MAX_LINE_BYTES:
                    raise SnapshotError(f"{path}: line {number}: longer than {MAX_LINE_BYTES} bytes")
                try:
                    obj = json.loads(data)
                except ValueError as exc:
                    raise SnapshotError(f"{path}: line {number}: not JSON ({exc})") from None
                kind = obj.get("kind") if isinstance(obj, dict) else None
                if number == 1 and kind != "header":
                    raise SnapshotError(f"{path}: line 1: not an offer snapshot (no header line)")
                try:
                    if kind == "header" and number == 1:
                        header = SnapshotHeader.model_validate(obj)
                        line: SnapshotHeader | SnapshotOffer | SnapshotMember | SnapshotEnd = header
                    elif kind == "offer" and members == 0:
                        line = SnapshotOffer.model_validate(obj)
                        first = offer_ids.setdefault(line.offer_id, number)
                        if first != number:
                            raise SnapshotError(
                                f"{path}: line {number}: offer {line.offer_id!r} appears twice (first on line {first})")
                    elif kind == "member":
                        offers = obj.get("offers")
                        if isinstance(offers, list):
                            obj = dict(obj, offers=[
                                dict(zip(("offer_id", "rule", "reason", "score", "why"), o))
                                if isinstance(o, list) and len(o) == (4 if header and header.version == 1 else 5)
                                else o for o in offers
                            ])
                        line = SnapshotMember.model_validate(obj)
                        first = member_keys.setdefault(line.member, number)
                        if first != number:
                            raise SnapshotError(
                                f"{path}: line {number}: member {line.member} appears twice (first on line {first})")
                        ids = [o.offer_id for o in line.offers]
                        twice = next((i for n, i in enumerate(ids) if i in ids[:n]), None)
                        if twice is not None:  # it would fill two of the shopper's few cards with one offer
                            raise SnapshotError(f"{path}: line {number}: offer {twice!r} twice for one member")
                        unknown = [i for o in line.offers for i in (o.offer_id, o.why and o.why.anchor_offer)
                                   if i is not None and i not in offer_ids]
                        if unknown:
                            raise SnapshotError(f"{path}: line {number}: offer {unknown[0]!r} is not in the snapshot")
                        members += 1
                    elif kind == "end":
                        end = SnapshotEnd.model_validate(obj)
                        assert header is not None
                        if end.lines != number - 1 or end.sha256 != digest.hexdigest():
                            raise SnapshotError(f"{path}: bad checksum (the file is damaged or was changed)")
                        if (len(offer_ids), members) != (header.offers, header.members):
                            raise SnapshotError(
                                f"{path}: header says {header.offers} offers / {header.members} members, "
                                f"the file has {len(offer_ids)} / {members}"
                            )
                        if handle.read(1):
                            raise SnapshotError(f"{path}: line {number + 1}: data after the end line")
                        yield end
                        return
                    else:
                        raise SnapshotError(f"{path}: line {number}: unexpected line kind {kind!r} here")
                except ValidationError as exc:
                    first = exc.errors()[0]
                    where = ".".join(str(p) for p in first["loc"])
                    raise SnapshotError(f"{path}: line {number}: {where}: {first['msg']}") from None
                digest.update(data)
                yield line
    except (OSError, EOFError, zlib.error) as exc:
        raise SnapshotError(f"{path}: cannot read (line {number + 1}): {exc}") from None
    raise SnapshotError(f"{path}: no end line after line {number} (the file is cut short)")


def read_header(path: Path) -> SnapshotHeader:
    """Only the header line (cheap: to pick the newest snapshot of a directory without reading it all)."""
    for line in read_snapshot(path):
        assert isinstance(line, SnapshotHeader)
        return line
    raise SnapshotError(f"{path}: empty")  # pragma: no cover - read_snapshot raises first
