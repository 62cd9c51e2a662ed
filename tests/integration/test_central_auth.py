"""Dashboard users file: scrypt hashes, hashed tokens, private file mode, clear errors."""
from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from central.auth import LoginThrottle, Sessions, User, UserDirectory, UsersFileError, verify_password


def test_users_file_keeps_only_hashes(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    users = UserDirectory(path)
    users.set_user("berlin", "a long password", ["s001", "s002"])
    users.set_user("it", "another long one", ["*"])
    token = users.new_token("berlin")
    text = path.read_text()
    assert "a long password" not in text and token not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    entry = json.loads(text)["users"]["berlin"]
    assert entry["password"].startswith("scrypt$") and verify_password("a long password", entry["password"])

    again = UserDirectory(path)  # what the collector loads at start
    assert again.authenticate("berlin", "a long password").stores == frozenset({"s001", "s002"})
    assert again.authenticate("berlin", "wrong") is None and again.authenticate("nobody", "x" * 10) is None
    assert again.by_token(token).name == "berlin" and again.by_token(token + "x") is None
    assert again.authenticate("it", "another long one").stores is None  # every store
    again.remove_user("berlin")
    assert UserDirectory(path).by_token(token) is None


@pytest.mark.parametrize(
    ("name", "password", "stores", "message"),
    [("x y", "long enough", ["s1"], "user name 'x y'"), ("ok", "short", ["s1"], "shorter than 8"),
     ("ok", "long enough", [], "at least one --store"), ("ok", "long enough", ["s/1"], "store 's/1'")],
)
def test_bad_user_changes_name_the_problem(tmp_path: Path, name: str, password: str, stores: list[str],
                                           message: str) -> None:
    with pytest.raises(UsersFileError, match=message):
        UserDirectory(tmp_path / "u.json").set_user(name, password, stores)


def test_unreadable_users_file_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "u.json"
    path.write_text("{not json")
    with pytest.raises(UsersFileError, match="not a moodkiosk users file"):
        UserDirectory(path)


def test_login_throttle_window() -> None:
    throttle = LoginThrottle(limit=3, window_s=0.3)
    for _ in range(3):
        assert throttle.retry_after("a") == 0
        throttle.failed("a")
    assert throttle.retry_after("a") > 0 and throttle.retry_after("b") == 0
    import time
    time.sleep(0.35)
    assert throttle.retry_after("a") == 0


def test_a_user_holds_at_most_per_user_sessions_and_the_oldest_end_first() -> None:
    """Logging in again and again (a script, a kiosk browser reloading) ended no session: each login added one
    for 12 hours; now the user's oldest ones end and other users' sessions are untouched."""
    sessions = Sessions(per_user=3)
    ann, bob = User("ann", None), User("bob", frozenset({"s1"}))
    bobs = sessions.create(bob, "hb")
    tokens = [sessions.create(ann, "ha") for _ in range(5)]
    assert [sessions.get(t) is not None for t in tokens] == [False, False, True, True, True]
    assert sessions.get(bobs) is not None and sessions.get(bobs).name == "bob"


@pytest.mark.owasp_scrypt
def test_new_passwords_are_hashed_at_owasp_scrypt_parameters(tmp_path: Path) -> None:
    users = UserDirectory(tmp_path / "u.json")
    users.set_user("it", "long enough", ["*"])
    stored = json.loads((tmp_path / "u.json").read_text())["users"]["it"]["password"]
    assert stored.startswith("scrypt$n=131072,r=8,p=1$")  # N=2^17, r=8, p=1
    assert users.authenticate("it", "long enough") is not None
    # hashes written before (N=2^14, no parameters in the string) still verify
    from central.auth import _LEGACY_SCRYPT
    import hashlib

    salt = bytes(16)
    legacy = f"scrypt${salt.hex()}${hashlib.scrypt(b'old password', salt=salt, **_LEGACY_SCRYPT).hex()}"
    assert verify_password("old password", legacy) and not verify_password("other", legacy)


def test_central_user_tokens_and_revoke_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from kiosk.cli import main

    users = str(tmp_path / "u.json")
    monkeypatch.setenv("MK_TEST_PW", "long enough")
    assert main(["central-user", "add", "it", "--store", "*", "--password-env", "MK_TEST_PW", "--users", users]) == 0
    assert main(["central-user", "token", "it", "--label", "grafana", "--users", users]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["central-user", "token", "it", "--label", "forever", "--expires-days", "0", "--users", users]) == 0
    assert main(["central-user", "tokens", "it", "--users", users]) == 0
    listing = capsys.readouterr().out
    assert "grafana\tuntil 20" in listing and "forever\tuntil revoked" in listing
    assert UserDirectory(users).by_token(token).name == "it"
    assert main(["central-user", "revoke", "it", "--label", "grafana", "--users", users]) == 0
    assert UserDirectory(users).by_token(token) is None
    assert main(["central-user", "revoke", "it", "--label", "grafana", "--users", users]) == 2
    assert "has no token named 'grafana'" in capsys.readouterr().err


@pytest.mark.parametrize(("entry", "message"), [
    ({"password": "H", "stores": "s001"}, "user 'bob': stores"),  # was the stores 's', '0' and '1'
    ({"password": "H", "stores": ["s/1"]}, "user 'bob': store 's/1'"),
    ({"password": "H", "stores": []}, "user 'bob': stores"),
    ({"password": "H", "stores": [5]}, "user 'bob': stores"),  # was a 500 at the user's first request
    ({"stores": ["s1"]}, "user 'bob': password"),
    ({"password": 7, "stores": ["s1"]}, "user 'bob': password"),
    ("scrypt$...", "user 'bob': not an object"),  # was an AttributeError in every users() call (alerts, list)
])
def test_a_hand_edited_users_file_is_checked_user_by_user(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         entry: object, message: str) -> None:
    from kiosk.cli import main

    good = UserDirectory(tmp_path / "good.json")
    good.set_user("bob", "long enough", ["s1"])
    hashed = json.loads((tmp_path / "good.json").read_text())["users"]["bob"]["password"]
    if isinstance(entry, dict) and entry.get("password") == "H":
        entry = dict(entry, password=hashed)
    path = tmp_path / "u.json"
    path.write_text(json.dumps({"users": {"bob": entry}}))
    with pytest.raises(UsersFileError, match=message):
        UserDirectory(path)
    assert main(["central-user", "list", "--users", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_users_file_with_a_bad_user_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "u.json"
    path.write_text(json.dumps({"users": {"b o b": {"password": "x", "stores": ["*"]}}}))
    with pytest.raises(UsersFileError, match="user name 'b o b'"):
        UserDirectory(path)


def test_a_change_keeps_the_users_files_group_and_mode(tmp_path: Path) -> None:
    """The service runs as its own user and reads the file through its group (INSTALL.md: chgrp moodkiosk,
    chmod 640). Every `central-user add` wrote a fresh root-only 0600 file over it, so the running central could
    no longer read it (checked by hand: `runuser -u nobody -- cat` of such a file: Permission denied)."""
    import grp
    import os

    path = tmp_path / "users.json"
    users = UserDirectory(path)
    users.set_user("bob", "long enough", ["s1"])
    group = grp.getgrnam("daemon").gr_gid
    os.chown(path, -1, group)
    path.chmod(0o640)
    users.set_user("eve", "long enough", ["s2"])
    users.new_token("eve")
    st = path.stat()
    assert (st.st_gid, stat.S_IMODE(st.st_mode)) == (group, 0o640)
    path.chmod(0o666)  # never wider than 0640, whatever the file had
    users.remove_user("eve")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
