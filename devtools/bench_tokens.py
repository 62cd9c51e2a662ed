"""Benchmark: what one API request's bearer-token lookup costs central, by the size of the users file.

`python -m devtools.bench_tokens [--users 2000] [--tokens 4]` writes a users file in the real format (one
user made with `UserDirectory`, copied under other names, each with `--tokens` tokens shaped like a real one) and times
`UserDirectory.by_token` for unknown tokens (what anyone on the network can send) and for a valid one.
Prints median microseconds per lookup. Run it on two versions to compare them on the same machine."""
from __future__ import annotations

import argparse
import json
import secrets
import statistics
import tempfile
import time
from pathlib import Path

from central.auth import UserDirectory


def _timed(call: object, rounds: int) -> float:
    """Median microseconds of `call()` over `rounds` runs."""
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        call()  # type: ignore[operator]
        times.append((time.perf_counter() - began) * 1e6)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_tokens", description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--tokens", type=int, default=4, help="tokens per user")
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "users.json"
        seed = UserDirectory(path)
        seed.set_user("seed", "a long enough password", ["s1"])
        data = json.loads(path.read_text(encoding="utf-8"))
        for i in range(args.users):
            entry = json.loads(json.dumps(data["users"]["seed"]))
            entry["tokens"] = []
            data["users"][f"user{i}"] = entry
        path.write_text(json.dumps(data), encoding="utf-8")
        known = UserDirectory(path).new_token(f"user{args.users // 2}", "t0")  # one real token, by the real code
        data = json.loads(path.read_text(encoding="utf-8"))
        template = data["users"][f"user{args.users // 2}"]["tokens"][0]
        for n in range(args.users):
            entry = data["users"][f"user{n}"]
            while len(entry["tokens"]) < args.tokens:
                entry["tokens"].append(dict(template, label=f"t{len(entry['tokens'])}",
                                            digest=secrets.token_hex(32)))
        path.write_text(json.dumps(data), encoding="utf-8")
        users = UserDirectory(path)
        assert users.by_token(known) is not None and users.by_token("nope") is None
        unknown = _timed(lambda: users.by_token(secrets.token_urlsafe(24)), args.rounds)
        valid = _timed(lambda: users.by_token(known), args.rounds)
    print(f"bench_tokens: {args.users} users x {args.tokens} tokens: unknown token {unknown:.0f} us, "
          f"valid token {valid:.0f} us per lookup (median of {args.rounds})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
