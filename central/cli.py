"""`moodkiosk central`: the collector, its storage and the dashboard in one process."""
from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from datetime import timedelta

import contract
from central.errors import CentralError
from central.web.limits import REQUEST_DEADLINE_S
from contract.cli_values import identifier, number_between, whole_between

MAX_INGEST_PROCESSES = 64  # each is a process, a database connection and a member of the broker's group
_positive_float = number_between(0, 1e7, above_low=True)
_days = whole_between(0, 36500, "days")
_processes = whole_between(1, MAX_INGEST_PROCESSES, "processes")  # 100000 used to pass and start 99,999 workers
_store_id = identifier("store")
_group = identifier("group")  # one topic level: "a/b" or "+" used to pass and then subscribe to nothing

log = logging.getLogger(__name__)


def parse_hostport(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        raise CentralError(f"--http {text!r} must be HOST:PORT, e.g. 127.0.0.1:8080")
    return host.strip("[]"), int(port)


def default_ingest_processes() -> int:
    """One collector process per core, up to 4 (past that the broker and the database are the limit)."""
    return max(1, min(4, os.cpu_count() or 1))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mqtt", default=contract.DEFAULT_BROKER_URL, type=_broker,
                        help=f"broker URL, mqtt://host[:port] or mqtts://host[:port] (default {contract.DEFAULT_BROKER_URL})")
    parser.add_argument("--db", default="sqlite:///var/central.db",
                        help="sqlite:///relative.db, sqlite:////abs/path.db or postgresql://user@host:port/db")
    parser.add_argument("--http", default="127.0.0.1:8080", help="HOST:PORT the dashboard listens on")
    parser.add_argument("--users", default="var/central-users.json",
                        help="users file made with `moodkiosk central-user` (scrypt-hashed passwords)")
    parser.add_argument("--group", default="moodkiosk-collectors", type=_group,
                        help="MQTT 5 shared-subscription group; collectors in one group split the fleet")
    parser.add_argument("--allow-store", action="append", default=None, metavar="STORE", type=_store_id,
                        help="accept only these store ids (repeatable); default any store")
    parser.add_argument("--mqtt-username", default=None, help="broker user name")
    parser.add_argument("--mqtt-password-env", default="MOODKIOSK_CENTRAL_MQTT_PASSWORD",
                        help="environment variable with the broker password")
    parser.add_argument("--ca-file", default=None, help="CA bundle for mqtts://")
    parser.add_argument("--ingest-processes", type=_processes, default=None, metavar="N",
                        help="collector processes sharing the ingest (one per core scales it; default: the CPU count, "
                             "at most 4)")
    parser.add_argument("--raw-days", type=_days, default=35,
                        help="keep raw 60 s windows this many days; older ones live on as hourly/daily rollups")
    parser.add_argument("--hourly-days", type=_days, default=800, help="keep hourly rollups this many days (0 = forever)")
    parser.add_argument("--daily-days", type=_days, default=0, help="keep daily rollups this many days (0 = forever)")
    parser.add_argument("--stores-file", default=None,
                        help='TOML with store display names: [stores] s001 = "Berlin Mitte"')
    parser.add_argument("--alerts-file", default=None,
                        help="TOML with alert thresholds, quiet hours, [smtp] and recipients (dashboard users)")
    parser.add_argument("--secure-cookies", action="store_true", help="mark the session cookie Secure (behind HTTPS)")
    parser.add_argument("--api-docs", action="store_true",
                        help="serve the OpenAPI pages at /docs and /openapi.json (off by default)")
    parser.add_argument("--collector-name", default="central", type=_name,
                        help="names this central's MQTT sessions: client ids are moodkiosk-NAME-HOST-INDEX, the same "
                             "on every start, so a restart resumes its sessions; give each central on one host its "
                             "own name (default: central)")
    parser.add_argument("--max-window-age-days", type=_positive_float, default=366.0, metavar="DAYS",
                        help="reject windows that started longer ago than this (a kiosk's spool after an outage "
                             "must still fit; default 366)")
    parser.add_argument("--request-timeout-s", type=_positive_float, default=REQUEST_DEADLINE_S, metavar="SECONDS",
                        help="close an HTTP connection whose request has not fully arrived within this time "
                             "(slow clients; default %(default)g)")
    parser.add_argument("--max-clock-skew-s", type=_positive_float, default=900.0, metavar="SECONDS",
                        help="reject windows that end further in the future than this (default 900)")
    parser.add_argument("--tls-cert", default=None, metavar="PEM",
                        help="serve the dashboard over HTTPS with this certificate chain (cookies become Secure)")
    parser.add_argument("--tls-key", default=None, metavar="PEM", help="the private key of --tls-cert")


def _broker(text: str) -> contract.BrokerUrl:
    try:
        return contract.parse_broker_url(text)
    except contract.BrokerUrlError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _name(text: str) -> str:
    import re

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}", text):
        raise argparse.ArgumentTypeError(f"{text!r} must be 1-40 of A-Z a-z 0-9 _ -")
    return text


def main(args: argparse.Namespace) -> int:
    import contract

    from central.auth import UserDirectory
    from central.collector import CollectorSettings
    from central.collector_group import CollectorGroup
    from central.store import open_store
    from central.tls import tls_files
    from deploy.notify import Notifier, WatchdogThread
    from central.web.app import create_app
    from central.web.events import EventHub
    from central.web.server import DashboardServer, dashboard_config

    host, port = parse_hostport(args.http)
    from central.web.listen import listening_socket

    listener = listening_socket(host, port)  # before the collector joins the broker: a bad --http is one line
    tls = tls_files(args.tls_cert, args.tls_key)
    if args.ca_file:
        try:
            contract.check_ca_file(args.ca_file)
        except contract.CaFileError as exc:
            raise CentralError(f"--ca-file {args.ca_file}: {exc}") from None
    if not os.path.isfile(args.users):  # a mistyped path would start a dashboard nobody can log in to
        raise CentralError(f"users file {args.users} does not exist; create it with "
                           f"`moodkiosk central-user add NAME --store STORE --users {args.users}`")
    users = UserDirectory(args.users)
    if not len(users):
        log.warning("users file %s has no users: nobody can log in; add one with `moodkiosk central-user add`",
                    args.users)
    password = os.environ.get(args.mqtt_password_env) if args.mqtt_username else None
    if args.mqtt_username and password is None:
        raise CentralError(f"--mqtt-username is set but ${args.mqtt_password_env} is not")
    from central.history import History
    from central.rollup import RetentionSettings, Rollup, RollupThread
    from central.store_names import load_store_names

    retention = RetentionSettings(args.raw_days, args.hourly_days, args.daily_days)
    store_names = load_store_names(args.stores_file)
    from central.alerts import AlertChecker, AlertThread, load_alert_settings

    alert_settings = load_alert_settings(args.alerts_file, users) if args.alerts_file else None
    processes = args.ingest_processes if args.ingest_processes is not None else default_ingest_processes()
    store = open_store(args.db)
    hub = EventHub()
    collector = CollectorGroup(
        CollectorSettings(
            args.mqtt, group=args.group, username=args.mqtt_username, password=password, ca_file=args.ca_file,
            allowed_stores=frozenset(args.allow_store) if args.allow_store else None,
            name=args.collector_name,
            time_bounds=contract.TimeBounds(max_age=timedelta(days=args.max_window_age_days),
                                            max_future=timedelta(seconds=args.max_clock_skew_s)),
        ),
        args.db, store, processes=processes, on_windows=hub.windows, on_kiosk=hub.kiosk,
    )
    app = create_app(store, users, hub, stats=collector.snapshot, secure_cookies=args.secure_cookies or tls is not None,
                     api_docs=args.api_docs, history=History(store, retention),
                     store_names=store_names)
    rollups = RollupThread(Rollup(store, retention))
    alerts = (AlertThread(AlertChecker(store, users, alert_settings, stats=collector.snapshot,
                                            retention=retention))
              if alert_settings else None)
    server = DashboardServer(dashboard_config(app, host, port, request_deadline_s=args.request_timeout_s,
                                              ssl_certfile=str(tls.cert) if tls else None,
                                              ssl_keyfile=str(tls.key) if tls else None), hub)
    collector.start()
    rollups.start()
    if alerts:
        alerts.start()
    notifier = Notifier()
    watchdog = WatchdogThread(notifier, lambda max_age: collector.alive(max_age) and not server.should_exit)
    watchdog.start()
    notifier.ready(f"collecting from {args.mqtt}")
    stats_stop = threading.Event()

    def log_stats() -> None:
        while not stats_stop.wait(60):
            log.info("collector: %s", collector.snapshot())

    threading.Thread(target=log_stats, name="stats-log", daemon=True).start()
    failed: list[str] = []

    def watch() -> None:
        """A collector that cannot work any more ends the process (non-zero) so that its supervisor restarts it;
        staying up would look healthy while nothing is stored."""
        while not stats_stop.wait(1.0):
            why = collector.failure()
            if why is not None:
                failed.append(why)
                server.should_exit = True
                return

    threading.Thread(target=watch, name="collector-watch", daemon=True).start()
    log.info("dashboard on %s://%s:%s/ (API docs at /docs: %s), collecting from %s into %s with %s process(es)",
             "https" if tls else "http", host, port, "on" if args.api_docs else "off", args.mqtt,
             args.db.split("@")[-1], processes)
    # uvicorn handles SIGTERM gracefully and then re-raises it to the handler found at start; a no-op one
    # lets the clean-up below run (stop the collector, close the database) instead of dying on the spot.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        server.run(sockets=[listener])
    finally:
        notifier.stopping()
        watchdog.stop()
        stats_stop.set()
        rollups.stop()
        if alerts:
            alerts.stop()
        collector.stop()
        store.close()
        log.info("collector stopped: %s", collector.snapshot())
    if failed:
        log.error("moodkiosk central stopped because %s", failed[0])
        return 1
    return 0
