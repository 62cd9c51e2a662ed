"""Write the small committed test fixture ``tests/fixtures/fer_faces.npz``: a class-balanced PublicTest sample."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from models.data import PUBLIC_TEST_FILE, default_split_path, load_split

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "fer_faces.npz"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--per-class", type=int, default=14, help="faces per class (7 classes -> 98 faces)")
    p.add_argument("--seed", type=int, default=2013)
    p.add_argument("--out", type=Path, default=FIXTURE)
    args = p.parse_args(argv)
    split = load_split(default_split_path(PUBLIC_TEST_FILE))
    rng = np.random.default_rng(args.seed)
    picks = np.concatenate([rng.choice(np.flatnonzero(split.y == c), args.per_class, replace=False) for c in range(len(split.classes))])
    picks.sort()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, x=split.x[picks], y=split.y[picks].astype(np.int8), id=split.ids[picks],
                        classes=np.array(split.classes))
    print(f"wrote {args.out}: {len(picks)} faces, {args.out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
