"""Alerts a store manager can act on: kiosk offline, camera down, spool growing, rejected messages, and a mood
or feedback drop against the same weekday and hour of previous weeks. Each open problem is one alert, sent
once (e-mail over SMTP and/or a webhook) to the users who may see its store, never during quiet hours (it
goes out when they end, if still open), and listed on the dashboard."""
from __future__ import annotations

import functools
import logging
import os
import ssl
import time
import tomllib
from dataclasses import dataclass
from datetime import datetime, time as dtime, timezone
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Callable, Literal, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from central.alert_transport import DELIVERY_ERRORS, post_json, send_email, unreachable
from central.auth import User, UserDirectory
from contract.broker import CaFileError, check_ca_file
from contract.operator_files import read_small_text
from central.errors import CentralError
from central.history import History, Totals, _add, _totals, _zero
from central.periodic import PeriodicThread
from central.rollup import HOUR, RetentionSettings
from central.store import PostgresStore, _SqlStore

log = logging.getLogger(__name__)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Thresholds(_Strict):
    check_interval_s: float = Field(60, ge=5, le=3600, description="How often the checks run.")
    offline_minutes: float = Field(10, gt=0, le=1440, description="A kiosk offline this long is an alert.")
    camera_minutes: float = Field(10, gt=0, le=1440, description="No new camera frames this long (kiosk online).")
    spool_depth: int = Field(60, ge=1, description="Unsent windows on a kiosk (60 = an hour of windows).")
    rejected_per_check: int = Field(10, ge=1, description="Rejected messages between two checks.")
    mood_drop: float = Field(0.5, gt=0, le=2, description="Last hour's mood index this far below the same hour "
                                                          "of the same weekday in the previous weeks.")
    feedback_drop: float = Field(0.5, gt=0, le=2, description="The same for the feedback score.")
    weeks: int = Field(4, ge=1, le=12, description="Previous weeks the drop is measured against.")
    min_people: int = Field(20, ge=1, description="People seen in the hour (summed over windows) to judge mood.")
    min_presses: int = Field(5, ge=1, description="Feedback presses in the hour to judge feedback.")
    reopen_minutes: float = Field(60, ge=0, le=10080, description="A problem back within this long after its "
                                  "alert closed reopens that alert without a new message (a spool hovering at "
                                  "its threshold is one alert, not one e-mail every two minutes).")
    quiet_start: str = Field("22:00", pattern=r"^\d{2}:\d{2}$", description="Quiet hours start (local HH:MM).")
    quiet_end: str = Field("07:00", pattern=r"^\d{2}:\d{2}$", description="Quiet hours end (local HH:MM).")
    timezone: str = Field("UTC", description="IANA time zone of the quiet hours.")
    webhook_timeout_s: float = Field(30, gt=0, le=600, description="The longest one webhook call may take; a "
                                                                   "slower receiver is given up on until the next check.")

    @field_validator("quiet_start", "quiet_end")
    @classmethod
    def _clock(cls, value: str) -> str:
        hours, minutes = int(value[:2]), int(value[3:])
        if hours > 23 or minutes > 59:
            raise ValueError(f"{value!r} is not a time of day")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone") from None
        return value


class SmtpSettings(_Strict):
    host: str = Field(min_length=1)
    port: int = Field(25, ge=1, le=65535)
    sender: str = Field(min_length=3, pattern=r"^[^@\s]+@[^@\s]+$")
    starttls: bool = False
    implicit_tls: bool = Field(False, description="TLS from the first byte (SMTPS, usually port 465) instead of "
                                                  "STARTTLS; the certificate is checked the same way.")
    username: str | None = None
    password_env: str | None = Field(None, description="Environment variable holding the SMTP password.")
    timeout_s: float = Field(30, gt=0, le=600, description="The longest one message may take, connecting "
                                                           "included; a slower server is given up on until the next check.")
    ca_file: str | None = Field(None, description="CA bundle (PEM) the server's STARTTLS certificate is checked "
                                                  "against; default: the system's CAs.")

    @model_validator(mode="after")
    def _one_tls_and_no_login_in_clear(self) -> "SmtpSettings":
        if self.starttls and self.implicit_tls:
            raise ValueError("smtp: starttls and implicit_tls are two ways of the same thing; choose one")
        local = self.host in ("localhost", "127.0.0.1", "::1")
        if self.username and not (self.starttls or self.implicit_tls or local):
            raise ValueError(f"smtp: a login to {self.host} without starttls or implicit_tls would send the password "
                             "in clear; turn one on (or relay through a mail server on this host)")
        return self

    def tls_context(self) -> ssl.SSLContext:
        """For STARTTLS and SMTPS: the server must show a valid certificate for `host` (smtplib's own default
        checks nothing, so anyone on the way could read the login and the alerts)."""
        return ssl.create_default_context(cafile=self.ca_file)


class Recipient(_Strict):
    user: str = Field(min_length=1, description="Dashboard user; alerts only for the stores this user may see.")
    email: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+$")
    webhook: str | None = Field(None, pattern=r"^https?://\S+$")

    @model_validator(mode="after")
    def _somewhere(self) -> "Recipient":
        if not self.email and not self.webhook:
            raise ValueError(f"recipient {self.user!r} needs an email or a webhook")
        return self


class AlertSettings(_Strict):
    alerts: Thresholds = Field(default_factory=Thresholds)
    smtp: SmtpSettings | None = None
    recipients: tuple[Recipient, ...] = ()

    @model_validator(mode="after")
    def _smtp_for_email(self) -> "AlertSettings":
        if any(r.email for r in self.recipients) and self.smtp is None:
            raise ValueError("an e-mail recipient needs an [smtp] section")
        return self


def load_alert_settings(path: str | Path, users: UserDirectory) -> AlertSettings:
    """Read and check the alerts file; one line naming the file and the first problem."""
    try:
        data = tomllib.loads(read_small_text(path))
        settings = AlertSettings.model_validate(data)
    except OSError as exc:
        raise CentralError(f"alerts file {path}: cannot read ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise CentralError(f"alerts file {path}: not valid TOML ({exc})") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "file"
        raise CentralError(f"alerts file {path}: {where}: {err['msg']}") from None
    smtp = settings.smtp
    if smtp is not None and smtp.username and not smtp.password_env:
        raise CentralError(f"alerts file {path}: smtp.username needs password_env (the variable with the password)")
    if smtp is not None and smtp.password_env and os.environ.get(smtp.password_env) is None:
        raise CentralError(f"alerts file {path}: smtp.password_env: {smtp.password_env} is not set")
    if smtp is not None and smtp.ca_file:
        try:
            check_ca_file(smtp.ca_file)
        except CaFileError as exc:
            raise CentralError(f"alerts file {path}: smtp.ca_file {smtp.ca_file}: {exc}") from None
    known = {u.name for u in users.users()}
    for r in settings.recipients:
        if r.user not in known:
            raise CentralError(f"alerts file {path}: recipient user {r.user!r} is not in the users file")
    return settings


@dataclass(frozen=True)
class Problem:
    """Something wrong now; `key` identifies it while it lasts (one alert per open problem)."""

    key: str
    kind: Literal["offline", "camera", "spool", "rejected", "mood_drop", "feedback_drop"]
    store: str | None
    kiosk: str | None
    message: str


@dataclass(frozen=True)
class Alert:
    """A stored alert, open (closed_at None) or closed."""

    id: int
    key: str
    kind: str
    store: str | None
    kiosk: str | None
    message: str
    opened_at: float
    closed_at: float | None
    notified_at: float | None

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "store": self.store, "kiosk": self.kiosk, "message": self.message,
                "opened_at": self.opened_at, "closed_at": self.closed_at, "notified_at": self.notified_at}


def visible(alert: Alert, user: User) -> bool:
    """Store alerts for users who may see the store; fleet-wide ones (no store) only for all-store users."""
    return user.may_see(alert.store) if alert.store is not None else user.stores is None


class AlertChecker:
    """Runs the checks, keeps the alerts table, and delivers each new alert once outside quiet hours."""

    def __init__(self, store: _SqlStore, users: UserDirectory, settings: AlertSettings,
                 stats: Callable[[], Mapping[str, Any]] | None = None,
                 retention: RetentionSettings | None = None) -> None:
        self.store = store
        self.users = users
        self.settings = settings
        self.history = History(store, retention)
        self._stats = stats
        self._last_rejected: int | None = None
        # (store, kiosk) -> (frame counter, since when unchanged, whether "since" is only this process's first look)
        self._frames: dict[tuple[str, str], tuple[Any, float, bool]] = {}
        self._undecided: set[str] = set()  # keys a check cannot judge yet (just started): their alerts stay as they are
        self._delivered: set[tuple[int, int, str]] = set()  # (alert id, recipient, channel) sent while others failed

    # ---- detection ---------------------------------------------------------------------------------
    def problems(self, now: float) -> list[Problem]:
        """What is wrong now; also notes in `_undecided` the problems this process cannot judge yet (a camera
        watched for less than camera_minutes, rejections before a second count), so a restart neither closes
        their open alerts nor opens and sends them again."""
        t = self.settings.alerts
        found: list[Problem] = []
        undecided: set[str] = set()
        for k in self.store.kiosks():
            where = f"kiosk {k.kiosk} of store {k.store}"
            if k.online is False and k.status_at is not None and now - k.status_at >= t.offline_minutes * 60:
                found.append(Problem(f"offline:{k.store}:{k.kiosk}", "offline", k.store, k.kiosk,
                                     f"{where} offline since {_clock(k.status_at)} UTC"))
            health = dict(k.health or {})
            if k.online and "frames" in health:
                frames = health["frames"]
                key = f"camera:{k.store}:{k.kiosk}"
                seen, since, first_look = self._frames.get((k.store, k.kiosk), (None, now, True))
                if frames != seen:
                    first_look = seen is None
                    since = now
                    self._frames[(k.store, k.kiosk)] = (frames, since, first_look)
                if now - since >= t.camera_minutes * 60:
                    found.append(Problem(key, "camera", k.store, k.kiosk,
                                         f"{where}: no camera frames for {round((now - since) / 60)} min"))
                elif first_look:  # unchanged since this process started: it may have stopped before
                    undecided.add(key)
            depth = health.get("spool_depth")
            if isinstance(depth, int) and depth >= t.spool_depth:
                found.append(Problem(f"spool:{k.store}:{k.kiosk}", "spool", k.store, k.kiosk,
                                     f"{where}: {depth} windows waiting to be sent (spool growing)"))
        if self._stats is not None:
            rejected = int(self._stats().get("rejected_total", 0))
            if self._last_rejected is None or rejected < self._last_rejected:  # just started, or counters restarted
                undecided.add("rejected")
            elif rejected - self._last_rejected >= t.rejected_per_check:
                found.append(Problem("rejected", "rejected", None, None,
                                     f"{rejected - self._last_rejected} kiosk messages rejected since the last check "
                                     f"(reasons in /api/stats and the central log)"))
            self._last_rejected = rejected
        found += self._drops(now)
        self._undecided = undecided
        return found

    def _drops(self, now: float) -> list[Problem]:
        """The last full hour against the same hour of the same weekday in the previous weeks."""
        t = self.settings.alerts
        hour = (int(now) // HOUR) * HOUR - HOUR
        found = []
        for store in self.history.store_ids():
            current = _hour(self.history, store, hour)
            before = _zero()
            for week in range(1, t.weeks + 1):
                _add(before, ("", "", 0, HOUR, *_row(_hour(self.history, store, hour - week * 7 * 86400))))
            baseline = _totals(before)
            label = f"{_clock(hour)}-{_clock(hour + HOUR)} UTC"
            if (current.people >= t.min_people and baseline.people >= t.min_people and current.mood_index is not None
                    and baseline.mood_index is not None and baseline.mood_index - current.mood_index >= t.mood_drop):
                found.append(Problem(f"mood_drop:{store}", "mood_drop", store, None,
                                     f"store {store}: camera mood {current.mood_index:+.2f} in {label}, usually "
                                     f"{baseline.mood_index:+.2f} at this weekday and hour"))
            if (current.presses >= t.min_presses and baseline.presses >= t.min_presses
                    and current.feedback_score is not None and baseline.feedback_score is not None
                    and baseline.feedback_score - current.feedback_score >= t.feedback_drop):
                found.append(Problem(f"feedback_drop:{store}", "feedback_drop", store, None,
                                     f"store {store}: feedback score {current.feedback_score:+.2f} in {label} "
                                     f"({current.presses} presses), usually {baseline.feedback_score:+.2f}"))
        return found

    # ---- bookkeeping -------------------------------------------------------------------------------
    def run_once(self, now: float | None = None) -> list[Alert]:
        """Open new alerts, close solved ones, deliver the undelivered open ones unless in quiet hours."""
        now = time.time() if now is None else now
        problems = {p.key: p for p in self.problems(now)}
        open_alerts = {a.key: a for a in self.alerts(open_only=True)}
        for key, p in problems.items():
            if key in open_alerts:
                continue
            recent = self._closed_since(key, now - self.settings.alerts.reopen_minutes * 60)
            if recent is not None:
                self._write("UPDATE alerts SET closed_at = NULL WHERE id = ?", (recent,))
                log.warning("alert reopened: %s", p.message)
            else:
                self._write("INSERT INTO alerts (key, kind, store_id, kiosk_id, message, opened_at) "
                            "VALUES (?, ?, ?, ?, ?, ?)", (key, p.kind, p.store, p.kiosk, p.message, now))
                log.warning("alert opened: %s", p.message)
        for key, a in open_alerts.items():
            if key not in problems and key not in self._undecided:
                self._write("UPDATE alerts SET closed_at = ? WHERE id = ?", (now, a.id))
                log.info("alert closed: %s", a.message)
        sent = []
        if not self.quiet(now):
            down: set[str] = set()  # mail server / webhooks that failed in this check: not tried again in it
            still_open = self.alerts(open_only=True)
            open_ids = {a.id for a in still_open}
            self._delivered = {d for d in self._delivered if d[0] in open_ids}  # closed before fully sent
            for a in still_open:
                if a.notified_at is None and self._deliver(a, down):
                    self._write("UPDATE alerts SET notified_at = ? WHERE id = ?", (now, a.id))
                    self._delivered = {d for d in self._delivered if d[0] != a.id}  # all done: forget the parts
                    sent.append(a)
        return sent

    def quiet(self, now: float) -> bool:
        t = self.settings.alerts
        local = datetime.fromtimestamp(now, ZoneInfo(t.timezone)).time()
        start, end = dtime.fromisoformat(t.quiet_start), dtime.fromisoformat(t.quiet_end)
        if start == end:
            return False
        return start <= local < end if start < end else (local >= start or local < end)

    def alerts(self, open_only: bool = False) -> list[Alert]:
        """All of them: the checks compare every open problem with every open alert (with the dashboard's
        200, a 250-kiosk outage opened and sent the 50 oldest again at every check)."""
        return list_alerts(self.store, open_only, limit=None)

    def _closed_since(self, key: str, since: float) -> int | None:
        """The id of the alert for `key` closed at or after `since`, if any (the newest)."""
        rows = self.store._fetch(self.store._conn(), "SELECT id FROM alerts WHERE key = ? AND closed_at >= ? "
                                 "ORDER BY closed_at DESC, id DESC LIMIT 1", (key, since))
        return int(rows[0][0]) if rows else None

    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        if isinstance(self.store, PostgresStore):
            self.store._write(sql, params)
        else:
            with self.store._write_lock:
                self.store._conn().execute(sql, params)

    # ---- delivery ----------------------------------------------------------------------------------
    def _deliver(self, alert: Alert, down: set[str]) -> bool:
        """Send to every recipient whose user may see the alert's store; True if all deliveries worked.

        Each channel (a recipient's e-mail, its webhook) is remembered once it worked, so a dead webhook does
        not send the same recipient's e-mail again at every check. An endpoint in `down` failed earlier in this
        check and is skipped: a server that never answers costs one timeout per check, not one per alert and
        recipient (which held the checks for many minutes)."""
        users = {u.name: u for u in self.users.users()}
        ok = True
        for i, r in enumerate(self.settings.recipients):
            user = users.get(r.user)
            if user is None or not visible(alert, user):
                continue
            channels: list[tuple[str, Callable[[], None]]] = []
            if r.email:
                channels.append(("smtp", functools.partial(self._email, r.email, alert)))
            if r.webhook:
                channels.append((r.webhook, functools.partial(post_json, r.webhook, {"alert": alert.as_json(), "user": r.user},
                                                     self.settings.alerts.webhook_timeout_s)))
            for endpoint, send in channels:
                if (alert.id, i, endpoint) in self._delivered:
                    continue
                if endpoint in down:
                    ok = False
                    continue
                try:
                    send()
                except DELIVERY_ERRORS as exc:
                    ok = False  # tried again at the next check
                    if unreachable(exc):
                        down.add(endpoint)
                    log.error("alert %s not delivered to %s (%s): %s", alert.id, r.user,
                              "e-mail" if endpoint == "smtp" else "webhook", exc)
                else:
                    self._delivered.add((alert.id, i, endpoint))
        return ok

    def _email(self, to: str, alert: Alert) -> None:
        smtp = self.settings.smtp
        assert smtp is not None
        message = EmailMessage()
        message["From"], message["To"] = smtp.sender, to
        message["Subject"] = f"[moodkiosk] {alert.kind.replace('_', ' ')}: {alert.store or 'fleet'}"
        message.set_content(f"{alert.message}\n\nOpened {_clock(alert.opened_at)} UTC. You get one message per "
                            "problem; it is listed on the dashboard until it is solved.\n")
        login = (smtp.username, os.environ.get(smtp.password_env or "", "")) if smtp.username else None
        tls = smtp.tls_context() if smtp.starttls or smtp.implicit_tls else None
        send_email(message, smtp.host, smtp.port, smtp.timeout_s, tls, login, implicit_tls=smtp.implicit_tls)


def list_alerts(store: _SqlStore, open_only: bool = False, limit: int | None = 200,
                user: User | None = None) -> list[Alert]:
    """Newest first: the open ones, or open and closed; at most `limit` (None: all); with `user`, only those the
    user may see, chosen before the limit (after it, 200 newer alerts elsewhere hid all of a manager's)."""
    conditions: list[str] = ["closed_at IS NULL"] if open_only else []
    params: list[Any] = []
    if user is not None and user.stores is not None:  # a store list: its stores' alerts, no fleet-wide ones
        stores = sorted(user.stores)
        conditions.append(f"store_id IN ({', '.join('?' * len(stores))})" if stores else "1 = 0")
        params += stores
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    cap = "" if limit is None else f" LIMIT {int(limit)}"
    rows = store._fetch(store._conn(), "SELECT id, key, kind, store_id, kiosk_id, message, opened_at, closed_at, "
                        f"notified_at FROM alerts {where} ORDER BY opened_at DESC, id DESC{cap}", params)
    return [Alert(int(r[0]), *r[1:]) for r in rows]


def _hour(history: History, store: str, start: float) -> Totals:
    acc = _zero()
    for s in history.slots([store], start, start + HOUR, per_kiosk=False):
        if s[3] == HOUR:
            _add(acc, s)
    return _totals(acc)


def _row(t: Totals) -> tuple[Any, ...]:
    return (t.windows, t.people, t.people_max, t.mood_weighted, t.happy, t.neutral, t.unhappy)


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M")


class AlertThread(PeriodicThread):
    """Runs the checker every check_interval_s beside the collector (the first check after one interval, so
    kiosks have reconnected and reported after a central restart)."""

    def __init__(self, checker: AlertChecker) -> None:
        super().__init__("alerts", checker.settings.alerts.check_interval_s, checker.run_once, run_first=False)
        self.checker = checker
