"""Dashboard users: a JSON file of scrypt-hashed passwords and hashed API tokens, plus login sessions."""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import contract
from central.errors import CentralError

log = logging.getLogger(__name__)

ALL_STORES = "*"
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}  # ~50 ms per check: slow for guessing, fine for logins


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


def hash_password(password: str, salt: bytes | None = None) -> str:
    """scrypt$<salt hex>$<hash hex>"""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, salt_hex, digest_hex = stored.split("$")
        salt = bytes.fromhex(salt_hex)
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, **_SCRYPT)
    return hmac.compare_digest(digest.hex(), digest_hex)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class UserDirectory:
    """The users file: {"users": {name: {"password": "scrypt$..", "stores": ["s001"] | ["*"], "tokens": [sha256]}}}."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._data: dict[str, dict[str, Any]] = self._read()

    def _read(self) -> dict[str, dict[str, Any]]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            users = data["users"]
            if not isinstance(users, dict):
                raise TypeError("users is not an object")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UsersFileError(f"users file {self.path}: not a moodkiosk users file ({exc})") from exc
        return users

    def _save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"users": self._data}, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)

    def __len__(self) -> int:
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
            entry = self._data.setdefault(name, {"tokens": []})
            entry["password"] = hash_password(password)
            entry["stores"] = sorted(set(stores))
            self._save()
        return self._user(name)

    def remove_user(self, name: str) -> None:
        with self._lock:
            if self._data.pop(name, None) is None:
                raise UsersFileError(f"no user {name!r} in {self.path}")
            self._save()

    def new_token(self, name: str) -> str:
        """A fresh API bearer token for `name`; only its hash is stored, so print it once."""
        with self._lock:
            if name not in self._data:
                raise UsersFileError(f"no user {name!r} in {self.path}")
            token = "mk_" + secrets.token_urlsafe(32)
            self._data[name].setdefault("tokens", []).append(_token_hash(token))
            self._save()
        return token

    def _user(self, name: str) -> User:
        stores = self._data[name].get("stores", [])
        return User(name, None if ALL_STORES in stores else frozenset(stores))

    def users(self) -> list[User]:
        return [self._user(n) for n in sorted(self._data)]

    def authenticate(self, name: str, password: str) -> User | None:
        entry = self._data.get(name)
        if entry is None:
            verify_password(password, hash_password("dummy-equal-time"))  # same cost whether or not the user exists
            return None
        return self._user(name) if verify_password(password, entry.get("password", "")) else None

    def by_token(self, token: str) -> User | None:
        digest = _token_hash(token)
        for name, entry in self._data.items():
            if any(hmac.compare_digest(digest, t) for t in entry.get("tokens", [])):
                return self._user(name)
        return None


class Sessions:
    """Login sessions in memory (random tokens with expiry); a collector restart logs everyone out."""

    def __init__(self, ttl_s: float = 12 * 3600) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._by_token: dict[str, tuple[User, float]] = {}

    def create(self, user: User) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = time.monotonic()
            self._by_token = {k: v for k, v in self._by_token.items() if v[1] > now}
            self._by_token[token] = (user, now + self.ttl_s)
        return token

    def get(self, token: str) -> User | None:
        with self._lock:
            found = self._by_token.get(token)
        if found is None or found[1] < time.monotonic():
            return None
        return found[0]

    def drop(self, token: str) -> None:
        with self._lock:
            self._by_token.pop(token, None)


class LoginThrottle:
    """After `limit` failed logins for one user name within `window_s`, refuse that name until the window
    passes: scrypt makes each guess slow, this caps how many guesses one account gets."""

    def __init__(self, limit: int = 5, window_s: float = 600.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._lock = threading.Lock()
        self._failures: dict[str, list[float]] = {}

    def retry_after(self, name: str) -> float:
        """Seconds until `name` may try again (0 = now)."""
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._failures.get(name, []) if now - t < self.window_s]
            self._failures[name] = recent
            if len(recent) < self.limit:
                return 0.0
            return self.window_s - (now - recent[0])

    def failed(self, name: str) -> None:
        with self._lock:
            self._failures.setdefault(name, []).append(time.monotonic())
            if len(self._failures) > 10_000:  # bound memory against made-up names
                self._failures.pop(next(iter(self._failures)))

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(name, None)
