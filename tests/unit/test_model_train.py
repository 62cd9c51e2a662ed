"""Training on tiny data: steps run, checkpoints resume to the same weights, export reproduces the net in ONNX."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="training needs torch (pip install -e .[train])")

from models.contract import read_contract  # noqa: E402
from models.data import FerSplit, load_split  # noqa: E402
from models.net import ExpressionNet, NetConfig, count_macs  # noqa: E402
from models.train import CheckpointError, TrainConfig, load_checkpoint, train  # noqa: E402

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "fer_faces.npz"
TINY_NET = NetConfig(stages=((4,), (8,), (8,), (8,), (8,)))
CFG = TrainConfig(epochs=2, batch_size=16, max_batches=2, threads=1)


@pytest.fixture(scope="module")
def tiny() -> tuple[FerSplit, FerSplit]:
    split = load_split(FIXTURE)
    return dataclasses.replace(split, x=split.x[:64], y=split.y[:64]), dataclasses.replace(split, x=split.x[64:], y=split.y[64:])


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)["model"]


def test_two_steps_then_resume_gives_the_uninterrupted_result(tmp_path, tiny):
    train_split, val_split = tiny
    whole = train(CFG, train_split, val_split, tmp_path / "whole", net_config=TINY_NET)
    assert whole["epochs_done"] == 2 and 0.0 <= whole["best_acc"] <= 1.0
    first = train(CFG, train_split, val_split, tmp_path / "chunks", net_config=TINY_NET, stop_after=1)
    assert first["epochs_done"] == 1 and load_checkpoint(tmp_path / "chunks" / "last.pt")["epoch"] == 1
    resumed = train(CFG, train_split, val_split, tmp_path / "chunks", resume=True)
    assert resumed["epochs_done"] == 2
    a, b = _weights(tmp_path / "whole" / "last.pt"), _weights(tmp_path / "chunks" / "last.pt")
    initial = ExpressionNet(dataclasses.replace(TINY_NET, num_classes=7)).state_dict()
    assert any(not torch.equal(a[k], initial[k]) for k in a if a[k].is_floating_point()), "training changed nothing"
    for key in a:
        assert torch.allclose(a[key].float(), b[key].float(), atol=1e-5), key


def test_resume_without_checkpoint_is_one_line(tmp_path, tiny):
    with pytest.raises(CheckpointError, match=r"last\.pt: no such file"):
        train(CFG, *tiny, tmp_path / "empty", resume=True)


def test_export_writes_a_contract_model_that_matches_torch(tmp_path, tiny):
    pytest.importorskip("onnx", reason="export needs onnx (pip install -e .[train])")
    from models.export import export

    train(dataclasses.replace(CFG, epochs=1), *tiny, tmp_path / "run", net_config=TINY_NET)
    contract = export(tmp_path / "run" / "best.pt", tmp_path / "m.onnx", version="tiny-1")
    assert contract.version == "tiny-1" and contract.input_size == 48 and len(contract.classes) == 7
    assert read_contract(tmp_path / "m.onnx").mean == pytest.approx(load_checkpoint(tmp_path / "run" / "best.pt")["mean"], abs=1e-6)


def test_shipped_architecture_fits_the_speed_budget():
    assert count_macs(ExpressionNet()) < 40e6  # ~35 M; int8 on one AVX2 thread: batch 1 0.62-0.79 ms, batch 8 4.5-6.0 ms (models/expression.md)


def test_int8_export_keeps_the_contract_and_the_top_class(tmp_path, tiny):
    pytest.importorskip("onnx", reason="export needs onnx (pip install -e .[train])")
    from models.evaluate import evaluate
    from models.export import export

    train(dataclasses.replace(CFG, epochs=1), *tiny, tmp_path / "run", net_config=TINY_NET)
    contract = export(tmp_path / "run" / "best.pt", tmp_path / "m8.onnx", version="tiny-int8", calibration=load_split(FIXTURE).x)
    assert contract.precision == "int8" and contract.version == "tiny-int8"
    report = evaluate(tmp_path / "m8.onnx", FIXTURE, checkpoint=tmp_path / "run" / "best.pt", repeats=3)
    assert report.precision == "int8" and report.agreement is not None and report.agreement.ok, report.agreement


def test_int8_export_refuses_too_few_calibration_faces(tmp_path, tiny):
    pytest.importorskip("onnx", reason="export needs onnx (pip install -e .[train])")
    from models.export import ExportError, export

    train(dataclasses.replace(CFG, epochs=1), *tiny, tmp_path / "run", net_config=TINY_NET)
    with pytest.raises(ExportError, match=r"calibration needs >= 64 faces"):
        export(tmp_path / "run" / "best.pt", tmp_path / "m8.onnx", calibration=load_split(FIXTURE).x[:10])
    assert not (tmp_path / "m8.onnx").exists() and not list(tmp_path.glob("m8*.onnx"))


def test_warm_restart_starts_from_the_checkpoint_weights_with_a_new_schedule(tmp_path, tiny):
    train_split, val_split = tiny
    train(CFG, train_split, val_split, tmp_path / "first", net_config=TINY_NET)
    first = load_checkpoint(tmp_path / "first" / "last.pt")
    zero_steps = dataclasses.replace(CFG, epochs=1, max_batches=1, lr=1e-12)  # one step that cannot move the weights
    train(zero_steps, train_split, val_split, tmp_path / "warm", init_from=tmp_path / "first" / "last.pt")
    warm = load_checkpoint(tmp_path / "warm" / "last.pt")
    assert warm["net"] == first["net"] and warm["mean"] == first["mean"]  # the net and contract come along
    assert warm["init_from"] == str(tmp_path / "first" / "last.pt") and warm["init_epochs"] == 2 and warm["epoch"] == 1
    for name, value in first["model"].items():
        if value.is_floating_point() and "running" not in name:  # BN running stats move in train mode
            assert torch.allclose(warm["model"][name], value, atol=1e-6), name
    with pytest.raises(CheckpointError, match="no such file"):
        train(zero_steps, train_split, val_split, tmp_path / "x", init_from=tmp_path / "missing.pt")
