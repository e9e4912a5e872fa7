"""`python -m recsys recommend` and `explain`: for a trained user, or for a listening history file (folded in)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recsys.cli.main import main


@pytest.fixture(scope="module")
def history(recommender) -> list[list]:
    table = recommender.search_users(limit=30)
    frame = recommender.user_history(table["user_id"].iat[10])
    return [[t, float(p)] for t, p in zip(frame["track_id"], frame["plays"], strict=True)]


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_recommend_for_a_history_file_matches_the_api(enhanced_run, recommender, history, tmp_path, capsys):
    path = tmp_path / "history.json"
    path.write_text(json.dumps({"format": "recsys-history/1", "history": history, "report": {}}), encoding="utf-8")
    assert main(["recommend", "--checkpoint", str(enhanced_run.checkpoint), "--history", str(path), "--k", "5",
                 "--json"]) == 0
    got = [r["track_id"] for r in _json(capsys)["recommendations"]]
    assert got == recommender.recommend_for_history([tuple(h) for h in history], k=5)["track_id"].tolist()
    plain = tmp_path / "ids.json"
    plain.write_text(json.dumps([t for t, _ in history]), encoding="utf-8")
    assert main(["recommend", "--checkpoint", str(enhanced_run.checkpoint), "--history", str(plain)]) == 0
    assert "top 10 for the history in" in capsys.readouterr().out


def test_explain_for_a_history_file(enhanced_run, recommender, history, tmp_path, capsys):
    path = tmp_path / "history.json"
    path.write_text(json.dumps({"history": history}), encoding="utf-8")
    track = recommender.recommend_for_history([tuple(h) for h in history], k=1)["track_id"].iat[0]
    assert main(["explain", "--checkpoint", str(enhanced_run.checkpoint), "--history", str(path), "--track", track,
                 "--json"]) == 0
    exp = _json(capsys)
    assert exp["folded_in"] and exp["rank"] == 1 and exp["track_id"] == track
    assert main(["explain", "--checkpoint", str(enhanced_run.checkpoint), "--history", str(path), "--track",
                 track]) == 0
    text = capsys.readouterr().out
    assert "is recommended (#1) for this listener" in text and "score " in text


def test_recommend_for_a_user_with_recent_taste(enhanced_run, recommender, capsys):
    user = recommender.search_users(limit=5)["user_id"].iat[2]
    assert main(["recommend", "--checkpoint", str(enhanced_run.checkpoint), "--user", user, "--recent-days", "3",
                 "--json"]) == 0
    got = [r["track_id"] for r in _json(capsys)["recommendations"]]
    assert got == recommender.recommend(user, half_life_days=3)["track_id"].tolist()


@pytest.mark.parametrize(("content", "message"), [
    ("{broken", "not valid JSON"),
    ('{"history": 3}', "expected {\"history\""),
    ('["no-such-track"]', "unknown track 'no-such-track'"),
    ('[["t1", -2]]', "plays must be a positive number"),
])
def test_bad_history_files_get_one_clear_line(enhanced_run, tmp_path, capsys, content, message):
    path = tmp_path / "history.json"
    path.write_text(content, encoding="utf-8")
    assert main(["recommend", "--checkpoint", str(enhanced_run.checkpoint), "--history", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_user_and_history_are_exclusive(enhanced_run, tmp_path: Path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["recommend", "--checkpoint", str(enhanced_run.checkpoint), "--user", "u1", "--history", "h.json"])
    assert exit_info.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
