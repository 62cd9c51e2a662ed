"""``moodkiosk model-eval``: accuracy, per-class recall, confusion matrix and ms/face of an expression .onnx model.

Speed is measured the way the kiosk runs the model: onnxruntime, CPU, ONE intra-op thread, batch 1 and batch 8,
median of repeated runs after a warm-up. With ``--checkpoint`` (needs torch) it also checks that the ONNX graph
reproduces the PyTorch checkpoint's scores on the evaluated faces.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from vision.model_contract import ModelContract, read_contract
from models.data import PUBLIC_TEST_FILE, FerSplit, default_split_path, load_split
from models.errors import ModelError


DEFAULT_MODEL = Path(__file__).resolve().parent / "expression.onnx"


class EvaluationError(ModelError):
    """The model and the data do not fit together (classes or face size), or the ONNX/PyTorch check failed."""


@dataclass(frozen=True)
class Agreement:
    """How closely the ONNX graph reproduces the PyTorch checkpoint on the same inputs."""

    checkpoint: str
    max_abs_diff: float
    argmax_agreement: float
    ok: bool


@dataclass(frozen=True)
class EvalReport:
    """Everything ``model-eval`` prints; ``--json`` emits it as one object."""

    model: str
    version: str
    precision: str
    data: str
    faces: int
    classes: tuple[str, ...]
    accuracy: float
    recall: dict[str, float]
    confusion: list[list[int]]
    ms_per_face_batch1: float
    ms_per_batch8: float
    ms_per_face_batch8: float
    file_bytes: int
    agreement: Agreement | None


def _session(path: Path, threads: int):
    """The session exactly as the kiosk builds it: a figure for other options would not be the kiosk's."""
    from vision.expression import kiosk_session

    return kiosk_session(path, threads)


def preprocess(x: np.ndarray, contract: ModelContract) -> np.ndarray:
    """``(N,S,S) uint8`` faces -> ``(N,1,S,S) float32`` per the contract: (pixel/255 - mean)/std."""
    return ((x.astype(np.float32) / 255.0 - contract.mean) / contract.std)[:, None]


def time_batch(session, name: str, batch: np.ndarray, repeats: int) -> float:
    """Median milliseconds of one ``session.run`` on ``batch`` after a warm-up."""
    for _ in range(max(5, repeats // 10)):
        session.run(None, {name: batch})
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        session.run(None, {name: batch})
        samples.append(time.perf_counter() - t0)
    return float(np.median(samples) * 1000.0)


def _agreement(checkpoint: Path, inputs: np.ndarray, onnx_scores: np.ndarray, precision: str = "fp32") -> Agreement:
    """fp32 graphs must reproduce the scores (|diff| < 1e-3); int8 graphs the top class on >= 97 % of the faces."""
    try:
        import torch
    except ImportError as exc:
        raise EvaluationError(f"checkpoint {checkpoint}: the ONNX/PyTorch check needs torch (pip install -e .[train]): {exc}") from exc
    from models.train import build_model, load_checkpoint

    model = build_model(load_checkpoint(checkpoint)).eval()
    outs = []
    with torch.no_grad():
        for start in range(0, len(inputs), 512):
            outs.append(model(torch.from_numpy(inputs[start:start + 512])).numpy())
    ref = np.concatenate(outs)
    diff = float(np.abs(ref - onnx_scores).max())
    agree = float((ref.argmax(1) == onnx_scores.argmax(1)).mean())
    ok = agree >= 0.97 if precision == "int8" else diff < 1e-3 and agree >= 0.999
    return Agreement(str(checkpoint), diff, agree, ok)


def _model_inputs(model_path: Path, split: FerSplit, data_path: Path) -> tuple[ModelContract, np.ndarray]:
    """The model's contract and the split's faces preprocessed for it, after checking the two fit together."""
    contract = read_contract(model_path)
    if split.x.shape[1] != contract.input_size:
        raise EvaluationError(f"data file {data_path}: faces are {split.x.shape[1]} px but model {model_path} takes {contract.input_size} px")
    if tuple(split.classes) != contract.classes:
        raise EvaluationError(f"data file {data_path}: classes {list(split.classes)} differ from model {model_path} {list(contract.classes)}")
    return contract, preprocess(split.x, contract)


def _scores(model_path: Path, contract: ModelContract, inputs: np.ndarray) -> np.ndarray:
    """All scores in chunks of 256 on two threads; the session (and its thread pool) is gone before any timing."""
    session = _session(model_path, threads=2)
    return np.concatenate([session.run(None, {contract.input_name: inputs[s:s + 256]})[0] for s in range(0, len(inputs), 256)])


def evaluate(model_path: Path, data_path: Path, checkpoint: Path | None = None, repeats: int = 200) -> EvalReport:
    """Score ``model_path`` on the split at ``data_path``; times batch 1 and 8 on one thread."""
    split = load_split(data_path)
    contract, inputs = _model_inputs(model_path, split, data_path)
    scores = _scores(model_path, contract, inputs)
    pred = scores.argmax(1)
    n = len(contract.classes)
    confusion = np.zeros((n, n), dtype=np.int64)
    np.add.at(confusion, (split.y, pred), 1)
    support = confusion.sum(1)
    recall = {c: (float(confusion[i, i] / support[i]) if support[i] else float("nan")) for i, c in enumerate(contract.classes)}
    one_thread = _session(model_path, threads=1)
    ms1 = time_batch(one_thread, contract.input_name, inputs[:1], repeats)
    ms8 = time_batch(one_thread, contract.input_name, inputs[:8], max(repeats // 2, 20))
    agreement = _agreement(checkpoint, inputs, scores, contract.precision) if checkpoint is not None else None
    return EvalReport(
        model=str(model_path), version=contract.version, precision=contract.precision, data=str(data_path), faces=len(split), classes=contract.classes,
        accuracy=float((pred == split.y).mean()), recall=recall, confusion=confusion.tolist(),
        ms_per_face_batch1=ms1, ms_per_batch8=ms8, ms_per_face_batch8=ms8 / 8, file_bytes=model_path.stat().st_size,
        agreement=agreement,
    )


@dataclass(frozen=True)
class SpeedComparison:
    """Two models timed in alternating rounds of one run, so machine noise hits both alike; ms are medians of rounds."""

    model: str
    baseline: str
    rounds: int
    ms_batch1: float
    ms_batch8: float
    baseline_ms_batch1: float
    baseline_ms_batch8: float

    @property
    def speedup_batch8(self) -> float:
        return self.baseline_ms_batch8 / self.ms_batch8

    @property
    def speedup_batch1(self) -> float:
        return self.baseline_ms_batch1 / self.ms_batch1


def compare_speed(model_path: Path, baseline_path: Path, repeats: int = 200, rounds: int = 6) -> SpeedComparison:
    """Time ``model_path`` and ``baseline_path`` (one thread, batch 1 and 8) in ``rounds`` alternating rounds."""
    rng = np.random.default_rng(0)
    sessions = []  # by position, not by path: a model timed against a copy of itself gets two sessions
    for path in (model_path, baseline_path):
        contract = read_contract(path)
        sessions.append((_session(path, threads=1), contract.input_name,
                         rng.normal(0, 1, (8, 1, contract.input_size, contract.input_size)).astype(np.float32)))
    timings: list[list[tuple[float, float]]] = [[], []]
    for round_index in range(rounds):
        # The order flips every round so a position effect cannot favour one side (two copies of one file timed
        # in a fixed order came out 1.13-1.16x apart at batch 1 here).
        for i in (0, 1) if round_index % 2 == 0 else (1, 0):
            session, name, batch = sessions[i]
            timings[i].append((time_batch(session, name, batch[:1], repeats), time_batch(session, name, batch, max(repeats // 2, 20))))
    (ms1, ms8), (base1, base8) = (np.median(np.array(t), axis=0) for t in timings)
    return SpeedComparison(str(model_path), str(baseline_path), rounds, float(ms1), float(ms8), float(base1), float(base8))


@dataclass(frozen=True)
class PairedAccuracy:
    """Two models on the same faces: accuracy of each, the faces only one gets right, and McNemar's p-value.

    A gain of half a point on 3,589 faces is within noise unless the two models disagree on few faces; the
    paired test says which, so a new model version ships on evidence, not on a larger number.
    """

    accuracy: float
    baseline_accuracy: float
    only_model_right: int
    only_baseline_right: int
    p_value: float


def paired_accuracy(model_path: Path, baseline_path: Path, data_path: Path) -> PairedAccuracy:
    """McNemar's test (chi-squared with continuity correction, 1 dof) of two models' top classes on one split."""
    split = load_split(data_path)
    right = []
    for path in (model_path, baseline_path):
        contract, inputs = _model_inputs(path, split, data_path)
        right.append(_scores(path, contract, inputs).argmax(1) == split.y)
    only_model, only_base = int((right[0] & ~right[1]).sum()), int((~right[0] & right[1]).sum())
    return PairedAccuracy(float(right[0].mean()), float(right[1].mean()), only_model, only_base, mcnemar_p(only_model, only_base))


def mcnemar_p(only_a: int, only_b: int) -> float:
    """McNemar's p-value from the two discordant counts (chi-squared, continuity-corrected, 1 dof)."""
    discordant = only_a + only_b
    chi2 = max(abs(only_a - only_b) - 1, 0) ** 2 / discordant if discordant else 0.0
    return math.erfc(math.sqrt(chi2 / 2))


def format_paired(p: PairedAccuracy) -> str:
    return (f"accuracy vs baseline (same faces): {p.accuracy * 100:.2f} vs {p.baseline_accuracy * 100:.2f} %; "
            f"only this model right on {p.only_model_right}, only the baseline on {p.only_baseline_right}; "
            f"McNemar p = {p.p_value:.3f}")


def format_comparison(c: SpeedComparison) -> str:
    return (f"speed vs {c.baseline} ({c.rounds} alternating rounds, 1 thread, median): "
            f"batch 1 {c.ms_batch1:.3f} vs {c.baseline_ms_batch1:.3f} ms ({c.speedup_batch1:.2f}x), "
            f"batch 8 {c.ms_batch8:.3f} vs {c.baseline_ms_batch8:.3f} ms ({c.speedup_batch8:.2f}x)")


def format_report(r: EvalReport) -> str:
    """Human-readable report: headline figures, per-class recall and the confusion matrix (rows = true class)."""
    width = max(len(c) for c in r.classes)
    lines = [
        f"model    {r.model} (version {r.version}, {r.precision}, {r.file_bytes / 1e6:.2f} MB)",
        f"data     {r.data} ({r.faces} faces)",
        f"accuracy {r.accuracy * 100:.2f} %",
        f"speed    {r.ms_per_face_batch1:.3f} ms/face at batch 1; {r.ms_per_batch8:.3f} ms per batch of 8 "
        f"({r.ms_per_face_batch8:.3f} ms/face); onnxruntime CPU, 1 thread, median",
        "",
        "per-class recall:",
    ]
    lines += [f"  {c.ljust(width)}  {r.recall[c] * 100:6.2f} %  (n={sum(r.confusion[i])})" for i, c in enumerate(r.classes)]
    lines += ["", "confusion matrix (rows: true, columns: predicted):",
              " " * (width + 2) + " ".join(c[:5].rjust(5) for c in r.classes)]
    lines += [f"  {c.ljust(width)}" + " ".join(f"{v:5d}" for v in r.confusion[i]) for i, c in enumerate(r.classes)]
    if r.agreement is None:
        lines += ["", "ONNX vs PyTorch: not checked (pass --checkpoint runs/expression/best.pt; needs torch)"]
    else:
        a = r.agreement
        lines += ["", f"ONNX vs PyTorch ({a.checkpoint}): max |score diff| {a.max_abs_diff:.2e}, "
                      f"same top class on {a.argmax_agreement * 100:.2f} % -> {'OK' if a.ok else 'MISMATCH'}"
                      + (" (int8 graph: needs >= 97 % same top class)" if r.precision == "int8" else "")]
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="expression .onnx (default models/expression.onnx)")
    parser.add_argument("--data", type=Path, default=None, help=f"FER2013-format .npz split (default shared {PUBLIC_TEST_FILE})")
    parser.add_argument("--checkpoint", type=Path, default=None, help="PyTorch checkpoint to check the ONNX scores against")
    parser.add_argument("--repeats", type=int, default=200, help="timed runs per batch size")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="another .onnx to time against in alternating rounds of the same run (prints the speed ratio)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the text report")


def main(args: argparse.Namespace) -> int:
    data = args.data or default_split_path(PUBLIC_TEST_FILE)
    report = evaluate(args.model, data, args.checkpoint, args.repeats)
    comparison = compare_speed(args.model, args.baseline, args.repeats) if args.baseline is not None else None
    paired = paired_accuracy(args.model, args.baseline, data) if args.baseline is not None else None
    if args.json:
        print(json.dumps({**asdict(report), "vs_baseline": {**asdict(comparison), **asdict(paired)} if comparison else None}, indent=1))
    else:
        print(format_report(report) + (f"\n\n{format_paired(paired)}\n{format_comparison(comparison)}" if comparison else ""))
    return 1 if report.agreement is not None and not report.agreement.ok else 0
