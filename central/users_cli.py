"""`moodkiosk central-user`: add/remove dashboard users and issue API tokens in the users file."""
from __future__ import annotations

import argparse
import getpass
import os
import time

from central.auth import UserDirectory
from central.errors import CentralError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("add", "remove", "token", "revoke", "tokens", "list"),
                        help="what to do (token: issue an API token; revoke: end one; tokens: list a user's tokens)")
    parser.add_argument("name", nargs="?", help="user name")
    parser.add_argument("--users", default="var/central-users.json", help="users file")
    parser.add_argument("--store", action="append", default=[], metavar="STORE",
                        help="store id the user may see (repeatable); '*' for every store")
    parser.add_argument("--label", default=None, help="token name (token, revoke), e.g. grafana")
    parser.add_argument("--expires-days", type=float, default=90.0,
                        help="days a new token works (default 90; 0 = until revoked)")
    parser.add_argument("--password-env", default=None,
                        help="read the password from this environment variable instead of prompting")


def main(args: argparse.Namespace) -> int:
    users = UserDirectory(args.users)
    if args.action == "list":
        for user in users.users():
            print(f"{user.name}\t{'*' if user.stores is None else ','.join(sorted(user.stores))}")
        return 0
    if not args.name:
        raise CentralError(f"`central-user {args.action}` needs a user name")
    if args.action == "add":
        if args.password_env:
            password = os.environ.get(args.password_env)
            if password is None:
                raise CentralError(f"--password-env names ${args.password_env}, which is not set")
        else:
            password = getpass.getpass(f"password for {args.name}: ")
            if getpass.getpass("again: ") != password:
                raise CentralError("the two passwords differ")
        user = users.set_user(args.name, password, args.store)
        print(f"user {user.name} may see {'every store' if user.stores is None else ', '.join(sorted(user.stores))}")
    elif args.action == "remove":
        users.remove_user(args.name)
        print(f"user {args.name} removed")
    elif args.action == "revoke":
        if not args.label:
            raise CentralError("`central-user revoke` needs --label (see `central-user tokens NAME`)")
        users.revoke_token(args.name, args.label)
        print(f"token {args.label} of {args.name} revoked")
    elif args.action == "tokens":
        for info in users.tokens(args.name):
            until = "until revoked" if info.expires_at is None else time.strftime(
                "until %Y-%m-%d %H:%M UTC", time.gmtime(info.expires_at))
            print(f"{info.label}\t{until}")
    else:
        print(users.new_token(args.name, args.label, None if args.expires_days == 0 else args.expires_days))
    return 0
