"""`moodkiosk central-user`: add/remove dashboard users and issue API tokens in the users file."""
from __future__ import annotations

import argparse
import getpass
import os

from central.auth import UserDirectory
from central.errors import CentralError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("add", "remove", "token", "list"), help="what to do")
    parser.add_argument("name", nargs="?", help="user name")
    parser.add_argument("--users", default="var/central-users.json", help="users file")
    parser.add_argument("--store", action="append", default=[], metavar="STORE",
                        help="store id the user may see (repeatable); '*' for every store")
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
    else:
        print(users.new_token(args.name))
    return 0
