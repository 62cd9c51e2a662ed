"""`moodkiosk central-user`: add/remove dashboard users and issue API tokens in the users file."""
from __future__ import annotations

import argparse
import getpass
import os
import time
import sys

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
    parser.add_argument("--password-stdin", action="store_true",
                        help="read the password from the first line of standard input (scripts, provisioning)")


def prompt_password(name: str) -> str:
    """Ask twice on the terminal; without one (a script, a pipe, a service) say how to pass it instead."""
    if not sys.stdin.isatty():
        raise CentralError(f"no terminal to ask for {name}'s password; put it in an environment variable and "
                           "pass its name with --password-env VAR, or pipe it in with --password-stdin")
    try:
        password = getpass.getpass(f"password for {name}: ")
        again = getpass.getpass("again: ")
    except EOFError as exc:  # Ctrl-D at the prompt
        raise CentralError(f"no password given for {name}") from exc
    if again != password:
        raise CentralError("the two passwords differ")
    return password


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
        elif args.password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = prompt_password(args.name)
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
