"""Write kiosk/services/ranker_default.json: ranker weights learned on a retail file's validation split.

A store with too few members to learn its own weights uses these. Run:
    python -m kiosk.evaluation.export_default_ranker --data ../shared/data/retail_tafeng_dev.csv.gz
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from kiosk.evaluation.engines import learn_ranker
from kiosk.evaluation.protocol import Protocol, training_splits
from kiosk.evaluation.retail_data import load_retail
from kiosk.services.offer_ranking_model import DEFAULT_WEIGHTS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--protocol", choices=[p.value for p in Protocol], default=Protocol.GLOBAL_SPLIT.value)
    parser.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS)
    args = parser.parse_args(argv)
    data = load_retail(args.data)
    weights = learn_ranker(training_splits(data.log, Protocol(args.protocol)))
    document = {"learned_on": f"{args.data.name}, {args.protocol} training splits of the input period",
                **weights.to_json()}
    args.out.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    print(f"{args.out}: weights learned on {document['learned_on']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
