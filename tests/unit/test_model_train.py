"""Training on tiny data: steps run, checkpoints resume to the same weights, export reproduces the net in ONNX."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="training needs torch (pip install -e .[train])")

from vision.model_contract import read_contract  # noqa: E402
from models.data import FerSplit, load_split  # noqa: E402
from models.errors import ModelError  # noqa: E402
from models.net import ExpressionNet, NetConfig, count_macs  # noqa: E402
from models.train import (CheckpointError, TrainConfig, build_model, load_checkpoint, net_config_of, normalise,  # noqa: E402
                          soft_cross_entropy, teacher_probs, train)

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


def test_strided_stem_halves_the_side_and_survives_checkpoint_and_export(tmp_path, tiny):
    strided = NetConfig(stages=((8, 8), (8,), (8,), (8,)), stem_stride=2)
    assert count_macs(ExpressionNet(strided)) < count_macs(ExpressionNet(dataclasses.replace(strided, stem_stride=1))) / 3
    assert ExpressionNet(strided)(torch.zeros(2, 1, 48, 48)).shape == (2, 7)
    train(dataclasses.replace(CFG, epochs=1), *tiny, tmp_path / "run", net_config=strided)
    state = load_checkpoint(tmp_path / "run" / "best.pt")
    assert state["net"]["stem_stride"] == 2 and build_model(state).features[0].stride == (2, 2)
    legacy = {"net": {k: v for k, v in state["net"].items() if k != "stem_stride"}}  # checkpoints before stem_stride
    assert net_config_of(legacy).stem_stride == 1
    pytest.importorskip("onnx", reason="export needs onnx (pip install -e .[train])")
    from models.export import export

    export(tmp_path / "run" / "best.pt", tmp_path / "s2.onnx", version="tiny-s2")  # raises if ORT and torch disagree


def test_soft_cross_entropy_of_a_one_hot_target_is_cross_entropy():
    logits = torch.randn(5, 7, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 3, 6, 2, 2])
    one_hot = torch.nn.functional.one_hot(labels, 7).float()
    assert soft_cross_entropy(logits, one_hot).item() == pytest.approx(torch.nn.functional.cross_entropy(logits, labels).item(), rel=1e-6)


def test_distillation_learns_from_the_teachers_and_resumes_with_them(tmp_path, tiny):
    train_split, val_split = tiny
    train(CFG, train_split, val_split, tmp_path / "t1", net_config=TINY_NET)
    train(dataclasses.replace(CFG, seed=5), train_split, val_split, tmp_path / "t2", net_config=TINY_NET)
    teachers = [tmp_path / "t1" / "last.pt", tmp_path / "t2" / "last.pt"]
    probs = teacher_probs(teachers, train_split.x)
    one = load_checkpoint(teachers[0])
    model = build_model(one).eval()
    x = normalise(train_split.x, one["mean"], one["std"])
    with torch.no_grad():
        flip_avg = (model(x).softmax(1) + model(x.flip(-1)).softmax(1)) / 2
    assert probs.shape == (len(train_split), 7) and torch.allclose(probs.sum(1), torch.ones(len(train_split)), atol=1e-5)
    assert not torch.allclose(probs, flip_avg, atol=1e-4)  # the second teacher counts
    assert torch.allclose(teacher_probs(teachers[:1], train_split.x), flip_avg, atol=1e-5)

    pure = dataclasses.replace(CFG, distill_weight=1.0)
    train(pure, train_split, val_split, tmp_path / "whole", net_config=TINY_NET, teachers=teachers)
    train(dataclasses.replace(pure, distill_weight=0.0), train_split, val_split, tmp_path / "labels", net_config=TINY_NET, teachers=teachers)
    train(pure, train_split, val_split, tmp_path / "chunks", net_config=TINY_NET, teachers=teachers, stop_after=1)
    train(pure, train_split, val_split, tmp_path / "chunks", resume=True)  # the teachers come from the checkpoint
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "teacher_probs.pt").write_bytes(b"cut short")  # recomputed, not an error
    train(dataclasses.replace(pure, epochs=1), train_split, val_split, tmp_path / "broken", net_config=TINY_NET, teachers=teachers)
    assert torch.allclose(torch.load(tmp_path / "broken" / "teacher_probs.pt", weights_only=False)["probs"], probs)
    with pytest.raises(ModelError, match="--distill-weight 1.5: must be between 0 and 1"):
        train(dataclasses.replace(pure, distill_weight=1.5), train_split, val_split, tmp_path / "w", net_config=TINY_NET, teachers=teachers)
    whole, labels, chunks = (_weights(tmp_path / d / "last.pt") for d in ("whole", "labels", "chunks"))
    assert load_checkpoint(tmp_path / "chunks" / "last.pt")["teachers"] == [str(t) for t in teachers]
    assert any(not torch.allclose(whole[k].float(), labels[k].float(), atol=1e-4) for k in whole if whole[k].is_floating_point())
    for key in whole:
        assert torch.allclose(whole[key].float(), chunks[key].float(), atol=1e-5), key


def test_paired_accuracy_of_two_different_models(tmp_path, tiny):
    pytest.importorskip("onnx", reason="export needs onnx (pip install -e .[train])")
    from models.evaluate import compare_speed, evaluate, mcnemar_p, paired_accuracy
    from models.export import export

    shipped = Path(__file__).resolve().parents[2] / "models" / "expression.onnx"
    train(dataclasses.replace(CFG, epochs=1), *tiny, tmp_path / "run", net_config=TINY_NET)
    export(tmp_path / "run" / "best.pt", tmp_path / "tiny.onnx", version="tiny")
    paired = paired_accuracy(tmp_path / "tiny.onnx", shipped, FIXTURE)
    tiny_acc, shipped_acc = (evaluate(m, FIXTURE, repeats=3).accuracy for m in (tmp_path / "tiny.onnx", shipped))
    assert (paired.accuracy, paired.baseline_accuracy) == (tiny_acc, shipped_acc)
    n = len(load_split(FIXTURE))
    assert paired.only_model_right - paired.only_baseline_right == round((tiny_acc - shipped_acc) * n)
    assert paired.only_baseline_right > 0 and paired.p_value == mcnemar_p(paired.only_model_right, paired.only_baseline_right)
    speed = compare_speed(tmp_path / "tiny.onnx", shipped, repeats=5, rounds=2)
    assert speed.ms_batch8 < speed.baseline_ms_batch8  # a ~10 k MAC net against 35 M MACs: two distinct sessions
