"""Checkpoints: exact round trip, atomic writes, safe loading, resume, and clear errors."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from recsys.config import Config, ModelConfig, TrainConfig
from recsys.data import load_dataset
from recsys.errors import CheckpointError
from recsys.training import load_checkpoint, restore, save_checkpoint, train


def test_round_trip_gives_identical_scores(enhanced_run):
    restored = restore(enhanced_run.checkpoint)
    users = torch.arange(20)
    before = enhanced_run.model.prepare(enhanced_run.graph).scores(users)
    after = restored.model.prepare(restored.graph).scores(users)
    assert torch.equal(before, after)
    payload = restored.payload
    assert payload["complete"] and payload["metrics"]["test"]["ndcg@10"] == enhanced_run.test["ndcg@10"]
    assert set(payload["versions"]) >= {"torch", "torch_geometric", "recsys", "python"}
    assert payload["dataset"]["fingerprint"] == enhanced_run.dataset.fingerprint


def test_other_dataset_is_refused(enhanced_run, tmp_path):
    (tmp_path / "interactions.csv").write_text("user_id,track_id\nu1,t1\n")
    (tmp_path / "tracks.csv").write_text("track_id,artist_id\nt1,a1\n")
    (tmp_path / "artists.csv").write_text("artist_id\na1\n")
    with pytest.raises(CheckpointError, match="other data"):
        restore(enhanced_run.checkpoint, data=tmp_path)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_damaged_files_give_clear_errors(enhanced_run, tmp_path, damage):
    bad = tmp_path / "bad.pt"
    data = enhanced_run.checkpoint.read_bytes()
    bad.write_bytes({"truncate": data[: len(data) // 2], "garbage": os.urandom(4096), "empty": b""}[damage])
    with pytest.raises(CheckpointError, match="truncated or corrupted"):
        load_checkpoint(bad)


def test_missing_file_and_foreign_content(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a recsys checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    torch.save({"format": "recsys-checkpoint", "format_version": 999}, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="format version 999"):
        load_checkpoint(tmp_path / "future.pt")


class Boom:
    """Unpickling this would run code; loading must refuse it without running it."""

    def __reduce__(self):
        return (Path.touch, (Path(os.environ["RECSYS_TEST_MARKER"]),))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_pickle_with_arbitrary_objects_is_refused_not_executed(tmp_path, monkeypatch):
    marker = tmp_path / "executed"
    monkeypatch.setenv("RECSYS_TEST_MARKER", str(marker))
    evil = tmp_path / "evil.pt"
    with evil.open("wb") as handle:
        pickle.dump({"format": "recsys-checkpoint", "payload": Boom()}, handle)
    torch.save({"format": "recsys-checkpoint", "format_version": 1, "x": Boom()}, tmp_path / "evil2.pt")
    with pytest.raises(CheckpointError, match="nothing in it was run"):
        load_checkpoint(evil)  # a bare pickle: the weights-only unpickler stops at its first opcode
    with pytest.raises(CheckpointError, match="refused to load") as caught:
        load_checkpoint(tmp_path / "evil2.pt")  # a torch file naming a class: refused, the class named
    assert "it names" in str(caught.value) and "safe_globals" not in str(caught.value)
    assert not marker.exists()


def test_failed_write_keeps_the_previous_checkpoint(enhanced_run, tmp_path, monkeypatch):
    target = tmp_path / "model.pt"
    target.write_bytes(enhanced_run.checkpoint.read_bytes())
    before = target.read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("recsys.training.checkpoint.torch.save", disk_full)
    with pytest.raises(CheckpointError, match="No space left"):
        save_checkpoint({"model_type": "x"}, target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # no temporary file left behind


def test_read_only_folder_is_reported(enhanced_run, tmp_path, monkeypatch):
    target = tmp_path / "model.pt"
    target.write_bytes(b"previous")

    def read_only(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr("recsys.data.write.tempfile.mkstemp", read_only)
    with pytest.raises(CheckpointError, match="Read-only file system"):
        save_checkpoint({"model_type": "x"}, target)
    assert target.read_bytes() == b"previous"


class Interrupt(Exception):
    pass


def test_resume_reaches_the_same_result(small_data, tmp_path, monkeypatch):
    config = Config(ModelConfig(embedding_dim=16, hidden_dim=16, item_item=False),
                    TrainConfig(epochs=6, batch_size=1024, checkpoint_every=2, patience=50, seed=5))
    dataset = load_dataset(small_data)
    full = train(dataset, config, out=tmp_path / "full.pt", progress=False, log=lambda _: None)

    calls = {"n": 0}

    def save_then_crash(payload, path):
        save_checkpoint(payload, path)
        calls["n"] += 1
        if calls["n"] == 2:  # the second intermediate checkpoint (epoch 4) is on disk; the run dies
            raise Interrupt

    monkeypatch.setattr("recsys.training.trainer.save_checkpoint", save_then_crash)
    with pytest.raises(Interrupt):
        train(dataset, config, out=tmp_path / "resumed.pt", progress=False, log=lambda _: None)
    monkeypatch.setattr("recsys.training.trainer.save_checkpoint", save_checkpoint)
    partial = load_checkpoint(tmp_path / "resumed.pt")
    assert partial["training_state"]["epoch"] == 4 and not partial["complete"]
    resumed = train(dataset, config, out=tmp_path / "resumed.pt", resume=True, progress=False, log=lambda _: None)
    assert [h["loss"] for h in resumed.state.history] == pytest.approx([h["loss"] for h in full.state.history])
    assert resumed.test["ndcg@10"] == pytest.approx(full.test["ndcg@10"])
    for (name, a), (_, b) in zip(full.model.state_dict().items(), resumed.model.state_dict().items(), strict=True):
        if isinstance(a, torch.Tensor):
            assert torch.allclose(a, b, atol=1e-6), name


def test_resume_refuses_a_finished_or_different_run(enhanced_run, small_data):
    config = enhanced_run.config
    with pytest.raises(CheckpointError, match="finished run"):
        train(load_dataset(small_data), config, out=enhanced_run.checkpoint, resume=True, progress=False,
              log=lambda _: None)


def test_item_item_term_is_stored_not_refitted(enhanced_run, monkeypatch):
    from recsys.models.item_item import ItemItemTerm

    term = enhanced_run.model.item_item_module()
    assert term is not None and term.fitted, "the small run keeps its item-item term"
    payload = load_checkpoint(enhanced_run.checkpoint)
    stored = payload["state_dict"]["item_item._extra_state"]
    assert stored["lambda"] == term.lam
    monkeypatch.setattr(ItemItemTerm, "fit", lambda *a, **k: pytest.fail("the item-item term was refitted at load"))
    restored = restore(enhanced_run.checkpoint).model.item_item_module()
    torch.testing.assert_close(restored.matrix.to_dense(), term.matrix.to_dense(), rtol=0, atol=0)


def test_temporaries_of_killed_writes_are_cleaned_up(tmp_path):
    target = tmp_path / "m.pt"
    stale = tmp_path / ".m.pt.abc123.tmp"
    stale.write_bytes(b"half a checkpoint")
    save_checkpoint({"model_type": "x"}, target)
    assert target.is_file() and not stale.exists()


# ---------------------------------------------------------------------------------------------- malformed payloads
# issue 10: safe to unpickle, but wrong inside. Each one gave a traceback or a huge allocation before its check.

def _forged(enhanced_run, tmp_path: Path, change) -> Path:
    payload = torch.load(enhanced_run.checkpoint, map_location="cpu", weights_only=True)
    change(payload)
    torch.save(payload, tmp_path / "forged.pt")
    return tmp_path / "forged.pt"


def _set(section: str, key: str, value):
    return lambda payload: payload[section].__setitem__(key, value)


def _first_float(payload) -> str:
    """The first float matrix of the state dict (an embedding table)."""
    return next(k for k, v in payload["state_dict"].items()
                if isinstance(v, torch.Tensor) and v.is_floating_point() and v.dim() == 2 and len(v) > 3)


def _nan(payload) -> None:
    payload["state_dict"][_first_float(payload)].view(-1)[3] = float("nan")


@pytest.mark.parametrize("change, message", [
    (lambda p: p.__setitem__("state_dict", "weights"), "'state_dict' must be a dict (got str)"),
    (_set("model_config", "embedding_dim", "32"), "model_config.embedding_dim must be int (got str '32')"),
    (_set("model_config", "use_genres", 1), "model_config.use_genres must be bool (got int"),
    (_set("train_config", "lr", [0.1]), "train_config.lr must be float (got list"),
    (_set("num_nodes", "user", 10**11), "'num_nodes.user' is 100,000,000,000 but the checkpoint lists 150 user IDs"),
    (_set("num_nodes", "song", "600"), "'num_nodes.song' must be an integer (got str)"),
    (_set("model_config", "embedding_dim", 10**7), "more than the"),
    (_set("model_config", "num_layers", 10**6), "1000000 layer(s), more than the"),
    (lambda p: p["state_dict"].__setitem__("extra.weight", [1.0]), "'state_dict' entry 'extra.weight' is a list"),
    (_nan, "holds 1 NaN or infinite value(s)"),
    (_set("model_config", "colour", "red"), "model_config has the field 'colour'"),
])
def test_malformed_payloads_are_refused_before_anything_is_built(enhanced_run, tmp_path, change, message):
    forged = _forged(enhanced_run, tmp_path, change)
    with pytest.raises(CheckpointError, match="is malformed") as caught:
        load_checkpoint(forged)
    assert message in str(caught.value), caught.value


def test_a_malformed_checkpoint_is_one_line_from_the_cli(enhanced_run, small_data, tmp_path, capsys):
    from recsys.cli.main import main

    forged = _forged(enhanced_run, tmp_path, lambda p: p.__setitem__("state_dict", "weights"))
    assert main(["recommend", "--checkpoint", str(forged), "--data", str(small_data), "--user", "u0001"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "'state_dict' must be a dict" in err and "Traceback" not in err


def test_a_wrong_shape_names_the_tensor_and_both_shapes(enhanced_run, small_data, tmp_path):
    def grow(payload):
        name = _first_float(payload)
        table = payload["state_dict"][name]
        payload["state_dict"][name] = torch.cat([table, table[:1]])  # one row more than the model has
        payload["grown"] = name

    forged = _forged(enhanced_run, tmp_path, grow)
    name = torch.load(forged, weights_only=True)["grown"]
    rows, *rest = tuple(enhanced_run.model.state_dict()[name].shape)
    with pytest.raises(CheckpointError, match="weights do not fit") as caught:
        restore(forged, data=small_data)
    assert (f"tensor {name!r} has shape {(rows + 1, *rest)} in the file, the model expects {(rows, *rest)}"
            in str(caught.value)), caught.value


def test_an_invalid_config_value_is_a_checkpoint_error(enhanced_run, small_data, tmp_path):
    forged = _forged(enhanced_run, tmp_path, _set("model_config", "dropout", 7.0))
    with pytest.raises(CheckpointError, match="dropout must be in"):
        restore(forged, data=small_data)


def test_the_checkpoint_module_does_not_import_the_service():
    # before: checkpoint.py took __version__ from the top-level package, whose __init__ reaches the service
    import grimp

    graph = grimp.build_graph("recsys")
    assert graph.find_shortest_chain(importer="recsys.training.checkpoint", imported="recsys.service") is None
    assert graph.find_shortest_chain(importer="recsys.training.checkpoint", imported="recsys") is None
