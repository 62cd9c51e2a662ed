"""Dashboard users: a JSON file of scrypt-hashed passwords and hashed API tokens, plus login sessions."""
from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import os
import secrets
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import contract
from central.errors import CentralError
from contract.operator_files import read_small_text

log = logging.getLogger(__name__)

ALL_STORES = "*"
# OWASP Password Storage Cheat Sheet (2025): scrypt N=2^17, r=8, p=1 (128 MiB and ~0.3 s per check).
_SCRYPT = {"n": 2**17, "r": 8, "p": 1, "dklen": 32}
_LEGACY_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}  # "scrypt$salt$hash" files written before
_MAXMEM = 256 * 1024 * 1024
# Each check takes 128 MiB: a burst of logins for many names must not take the server's memory.
_CHECKS = threading.BoundedSemaphore(2)
TOKEN_DAYS = 90.0
USERS_FILE_LIMIT = 16 << 20  # tens of thousands of users; anything bigger is not a users file


class UsersFileError(CentralError):
    """The users file is missing, unreadable or malformed, or a user change is invalid."""


@dataclass(frozen=True)
class User:
    """A dashboard user; `stores` None means every store (central IT), else only those store ids."""

    name: str
    stores: frozenset[str] | None

    def may_see(self, store: str) -> bool:
        return self.stores is None or store in self.stores

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "stores": None if self.stores is None else sorted(self.stores)}


def _scrypt(password: str, salt: bytes, params: dict[str, int]) -> bytes:
    with _CHECKS:
        return hashlib.scrypt(password.encode("utf-8"), salt=salt, maxmem=_MAXMEM, **params)


def hash_password(password: str, salt: bytes | None = None) -> str:
    """scrypt$n=<N>,r=<r>,p=<p>$<salt hex>$<hash hex> (the parameters travel with the hash)."""
    salt = salt or secrets.token_bytes(16)
    digest = _scrypt(password, salt, _SCRYPT)
    return f"scrypt$n={_SCRYPT['n']},r={_SCRYPT['r']},p={_SCRYPT['p']}${salt.hex()}${digest.hex()}"


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("dummy-equal-time")


def verify_password(password: str, stored: str) -> bool:
    parts = stored.split("$") if isinstance(stored, str) else []
    try:
        if len(parts) == 3 and parts[0] == "scrypt":
            params, salt_hex, digest_hex = dict(_LEGACY_SCRYPT), parts[1], parts[2]
        elif len(parts) == 4 and parts[0] == "scrypt":
            values = dict(item.split("=") for item in parts[1].split(","))
            params = {"n": int(values["n"]), "r": int(values["r"]), "p": int(values["p"]), "dklen": 32}
            if not (2**10 <= params["n"] <= 2**20 and 1 <= params["r"] <= 16 and 1 <= params["p"] <= 4):
                return False
            salt_hex, digest_hex = parts[2], parts[3]
        else:
            return False
        salt = bytes.fromhex(salt_hex)
    except (ValueError, KeyError):
        return False
    return hmac.compare_digest(_scrypt(password, salt, params).hex(), digest_hex)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    """An API token as the users file keeps it: only the hash, a name, and when it stops working."""

    label: str
    digest: str
    expires_at: float | None

    def as_json(self) -> dict[str, Any]:
        return {"label": self.label, "hash": self.digest, "expires_at": self.expires_at}

    @classmethod
    def from_json(cls, entry: Any) -> "TokenInfo":
        if isinstance(entry, str):  # files written before tokens had names: never expire until revoked
            return cls(f"token-{entry[:8]}", entry, None)
        return cls(str(entry["label"]), str(entry["hash"]), None if entry.get("expires_at") is None
                   else float(entry["expires_at"]))


def _entry_problem(name: str, entry: Any) -> str | None:
    """What is wrong with one user of a (possibly hand-edited) users file, or None: a name that is not an id,
    an entry that is not an object, a password that is not text, stores that are not a list of store ids or
    ["*"] (a string "s001" was read as the stores "s", "0" and "1"). Tokens are checked where they are used."""
    try:
        contract.validate_id(name, "user name")
    except contract.ContractError as exc:
        return str(exc)
    if not isinstance(entry, dict):
        return f"user {name!r}: not an object with password and stores"
    if not isinstance(entry.get("password"), str):
        return f"user {name!r}: password must be a password hash (text), got {entry.get('password')!r:.40}"
    stores = entry.get("stores")
    if not isinstance(stores, list) or not stores or not all(isinstance(s, str) for s in stores):
        return f"user {name!r}: stores must be a non-empty list of store ids or [\"*\"], got {stores!r:.60}"
    for store in stores:
        if store != ALL_STORES:
            try:
                contract.validate_id(store, "store")
            except contract.ContractError as exc:
                return f"user {name!r}: {exc}"
    return None


class UserDirectory:
    """The users file: {"users": {name: {"password": "scrypt$..", "stores": ["s001"] | ["*"],
    "tokens": [{"label", "hash", "expires_at"}]}}}.

    The file is followed live: every lookup checks (at most every 0.2 s) whether it changed on disk, so a
    user removed or a password changed with `central-user` while central runs loses access at once."""

    CHECK_INTERVAL_S = 0.2

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._stamp: tuple[int, int, int] | None = None
        self._checked = 0.0
        self._data: dict[str, dict[str, Any]] = self._read()
        self._stamp = self._file_stamp()

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _follow(self) -> None:
        """Reload when the file changed; a file that cannot be read keeps the last good users (logged)."""
        now = time.monotonic()
        if now - self._checked < self.CHECK_INTERVAL_S:
            return
        with self._lock:
            self._checked = now
            stamp = self._file_stamp()
            if stamp == self._stamp:
                return
            try:
                self._data = self._read()
            except UsersFileError as exc:
                log.error("%s; keeping the users read before", exc)
                return
            self._stamp = stamp
            log.info("users file %s changed: %s user(s)", self.path, len(self._data))

    def _read(self) -> dict[str, dict[str, Any]]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(read_small_text(self.path, USERS_FILE_LIMIT))
            users = data["users"]
            if not isinstance(users, dict):
                raise TypeError("users is not an object")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UsersFileError(f"users file {self.path}: not a moodkiosk users file ({exc})") from exc
        for name, entry in users.items():
            problem = _entry_problem(name, entry)
            if problem:
                raise UsersFileError(f"users file {self.path}: {problem}")
        return users

    def _save(self) -> None:
        """Write a new file and rename it over the old one, with the old one's group and mode (at most 0640):
        the service reads the file through its group, and a root-only copy would lock the running central out."""
        tmp = self.path.with_suffix(".tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            old = self.path.stat()
            group, mode = old.st_gid, stat.S_IMODE(old.st_mode) & 0o640
        except FileNotFoundError:
            group, mode = -1, 0o600
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchown(fd, -1, group)
            os.fchmod(fd, mode)
        except OSError:
            os.close(fd)
            raise
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"users": self._data}, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
        self._stamp = self._file_stamp()

    def __len__(self) -> int:
        self._follow()
        return len(self._data)

    def set_user(self, name: str, password: str, stores: list[str]) -> User:
        """Create or update a user (password re-hashed); `stores` ["*"] for every store."""
        try:
            contract.validate_id(name, "user name")
        except contract.ContractError as exc:
            raise UsersFileError(str(exc)) from None
        if len(password) < 8:
            raise UsersFileError(f"password of {name!r} is shorter than 8 characters")
        if not stores:
            raise UsersFileError(f"user {name!r} needs at least one --store (or --store '*' for all stores)")
        for store in stores:
            if store != ALL_STORES:
                try:
                    contract.validate_id(store, "store")
                except contract.ContractError as exc:
                    raise UsersFileError(str(exc)) from None
        with self._lock:
            self._data = self._read()  # the file may have changed since we read it
            entry = self._data.setdefault(name, {"tokens": []})
            entry["password"] = hash_password(password)
            entry["stores"] = sorted(set(stores))
            self._save()
        return self._user(name)

    def remove_user(self, name: str) -> None:
        with self._lock:
            self._data = self._read()
            if self._data.pop(name, None) is None:
                raise UsersFileError(f"no user {name!r} in {self.path}")
            self._save()

    def new_token(self, name: str, label: str | None = None, days: float | None = TOKEN_DAYS) -> str:
        """A fresh API bearer token for `name`, named `label` and valid `days` (None: until revoked); only its
        hash is stored, so print it once."""
        with self._lock:
            self._data = self._read()  # the file may have changed since we read it
            if name not in self._data:
                raise UsersFileError(f"no user {name!r} in {self.path}")
            tokens = self._tokens(name)
            label = label or f"token{len(tokens) + 1}"
            try:
                contract.validate_id(label, "token name")
            except contract.ContractError as exc:
                raise UsersFileError(str(exc)) from None
            if any(t.label == label for t in tokens):
                raise UsersFileError(f"user {name!r} already has a token named {label!r}; revoke it first")
            if days is not None and not 0 < days <= 3650:
                raise UsersFileError(f"token validity of {days} days is not between 0 and 3650")
            token = "mk_" + secrets.token_urlsafe(32)
            expires = None if days is None else time.time() + days * 86400
            tokens.append(TokenInfo(label, _token_hash(token), expires))
            self._data[name]["tokens"] = [t.as_json() for t in tokens]
            self._save()
        return token

    def revoke_token(self, name: str, label: str) -> None:
        with self._lock:
            self._data = self._read()
            if name not in self._data:
                raise UsersFileError(f"no user {name!r} in {self.path}")
            tokens = self._tokens(name)
            kept = [t for t in tokens if t.label != label]
            if len(kept) == len(tokens):
                raise UsersFileError(f"user {name!r} has no token named {label!r}")
            self._data[name]["tokens"] = [t.as_json() for t in kept]
            self._save()

    def tokens(self, name: str) -> list[TokenInfo]:
        self._follow()
        with self._lock:
            return self._tokens(name) if name in self._data else []

    def _tokens(self, name: str) -> list[TokenInfo]:
        try:
            return [TokenInfo.from_json(t) for t in self._data[name].get("tokens", [])]
        except (KeyError, TypeError, ValueError) as exc:
            raise UsersFileError(f"users file {self.path}: tokens of {name!r} are malformed ({exc})") from None

    def credential(self, name: str) -> str | None:
        """What a session is bound to: the user's password hash (a new password ends old sessions)."""
        self._follow()
        entry = self._data.get(name)
        return None if entry is None else str(entry.get("password", ""))

    def session_user(self, name: str, credential: str) -> User | None:
        """The user a session belongs to, if it still exists with the same password; else None."""
        self._follow()
        with self._lock:
            entry = self._data.get(name)
            if entry is None or not hmac.compare_digest(str(entry.get("password", "")), credential):
                return None
            return self._user(name)

    def _user(self, name: str) -> User:
        stores = self._data[name].get("stores", [])
        return User(name, None if ALL_STORES in stores else frozenset(stores))

    def users(self) -> list[User]:
        self._follow()
        return [self._user(n) for n in sorted(self._data)]

    def authenticate(self, name: str, password: str) -> User | None:
        self._follow()
        entry = self._data.get(name)
        if entry is None:
            verify_password(password, _dummy_hash())  # same cost whether or not the user exists
            return None
        return self._user(name) if verify_password(password, entry.get("password", "")) else None

    def by_token(self, token: str) -> User | None:
        """The user of a valid, unexpired, unrevoked token, else None."""
        self._follow()
        digest = _token_hash(token)
        now = time.time()
        with self._lock:
            found = self._token_index().get(digest)
            if found is None:
                return None
            name, info = found
            return self._user(name) if info.expires_at is None or info.expires_at > now else None

    def _token_index(self) -> dict[str, tuple[str, TokenInfo]]:
        """Token digest -> (user, token), rebuilt when the users change (the file's stamp after every save and
        reload). Searching every user's tokens per request made each unknown bearer token cost ~23 ms with
        2,000 users, under the lock every login and request needs: anyone could keep central busy."""
        source = (self._data, self._stamp)
        cached = getattr(self, "_index_source", None)
        if cached is None or cached[0] is not source[0] or cached[1] != source[1]:
            index: dict[str, tuple[str, TokenInfo]] = {}
            for name in self._data:
                try:
                    tokens = self._tokens(name)
                except UsersFileError:  # one user's malformed tokens do not lock out the others
                    continue
                for info in tokens:
                    index.setdefault(info.digest, (name, info))
            self._index, self._index_source = index, source
        return self._index


@dataclass(frozen=True)
class Session:
    """A login: the user's name and the password hash it logged in with (checked on every request)."""

    name: str
    credential: str
    expires: float


class Sessions:
    """Login sessions in memory (random tokens with expiry); a collector restart logs everyone out."""

    def __init__(self, ttl_s: float = 12 * 3600, per_user: int = 20) -> None:
        self.ttl_s = ttl_s
        self.per_user = per_user  # a script logging in again and again ends its own oldest sessions, not memory
        self._lock = threading.Lock()
        self._by_token: dict[str, Session] = {}

    def create(self, user: User, credential: str) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = time.monotonic()
            self._by_token = {k: v for k, v in self._by_token.items() if v.expires > now}
            own = [k for k, v in self._by_token.items() if v.name == user.name]  # oldest first (insertion order)
            for old in own[:max(len(own) - self.per_user + 1, 0)]:
                del self._by_token[old]
            self._by_token[token] = Session(user.name, credential, now + self.ttl_s)
        return token

    def get(self, token: str) -> Session | None:
        with self._lock:
            found = self._by_token.get(token)
        if found is None or found.expires < time.monotonic():
            return None
        return found

    def drop(self, token: str) -> None:
        with self._lock:
            self._by_token.pop(token, None)


class LoginThrottle:
    """After `limit` failed logins for one user name from one source address within `window_s`, refuse that
    pair until the window passes: scrypt makes each guess slow, this caps how many guesses one account gets
    from one address, and an attacker elsewhere cannot lock the real user out of their own address.

    `reserve` is the atomic way in: it counts the attempt as a failure before the password is checked
    (`succeeded` clears it), so concurrent wrong logins cannot all pass the check at once."""

    def __init__(self, limit: int = 5, window_s: float = 600.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._lock = threading.Lock()
        self._failures: dict[str, list[float]] = {}

    def _wait(self, key: str, now: float) -> float:
        recent = [t for t in self._failures.get(key, []) if now - t < self.window_s]
        self._failures[key] = recent
        return 0.0 if len(recent) < self.limit else self.window_s - (now - recent[0])

    def retry_after(self, name: str, source: str = "") -> float:
        """Seconds until `name` may try again from `source` (0 = now)."""
        with self._lock:
            return self._wait(f"{source}|{name}", time.monotonic())

    def reserve(self, name: str, source: str = "") -> float:
        """0 and the attempt counted (as a failure until `succeeded`), or the seconds to wait."""
        key = f"{source}|{name}"
        with self._lock:
            now = time.monotonic()
            wait = self._wait(key, now)
            if wait == 0.0:
                self._add(key, now)
            return wait

    def failed(self, name: str, source: str = "") -> None:
        with self._lock:
            self._add(f"{source}|{name}", time.monotonic())

    def _add(self, key: str, now: float) -> None:
        self._failures.setdefault(key, []).append(now)
        if len(self._failures) > 10_000:  # bound memory against made-up names
            self._failures.pop(next(iter(self._failures)))

    def succeeded(self, name: str, source: str = "") -> None:
        with self._lock:
            self._failures.pop(f"{source}|{name}", None)
