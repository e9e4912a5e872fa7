"""Unit tests of the dashboard's pure parts: query-parameter parsing, rank moves, escaping, the pyvis page."""

from __future__ import annotations

import json
import re

import pytest

from dashboard import state
from dashboard.components import network, tables, theme
from dashboard.components.text import md

XSS = "<img src=x onerror=alert(1)>"


@pytest.mark.parametrize(("raw", "expected"), [("5", 5), (" 100 ", 100), ("1", 1)])
def test_parse_k_accepts_whole_numbers_in_range(raw, expected):
    assert state.parse_k(raw) == expected


@pytest.mark.parametrize("raw", ["-5", "0", "101", "abc", "2.5", "", "<script>"])
def test_parse_k_rejects_garbage(raw):
    with pytest.raises(ValueError, match="whole number from 1 to 100"):
        state.parse_k(raw)


@pytest.mark.parametrize(("raw", "expected"), [("0.3", 0.3), ("0", 0.0), ("1", 1.0), ("adaptive", None),
                                               ("Adaptive", None)])
def test_parse_genre_weight(raw, expected):
    assert state.parse_genre_weight(raw) == expected


@pytest.mark.parametrize("raw", ["abc", "1.5", "-0.1", "nan", "inf", "<script>"])
def test_parse_genre_weight_rejects_garbage(raw):
    with pytest.raises(ValueError, match="from 0 to 1"):
        state.parse_genre_weight(raw)


def test_genre_weight_round_trips_through_the_url():
    for value in (None, 0.0, 0.35, 1.0):
        assert state.parse_genre_weight(state.format_genre_weight(value)) == value


@pytest.mark.parametrize("raw", ["", "   ", "x" * 201, "a\nb", "\x00"])
def test_parse_id_rejects_unprintable_or_empty(raw):
    with pytest.raises(ValueError):
        state.parse_id(raw)


def test_parse_id_keeps_odd_but_printable_ids_for_the_model_to_judge():
    assert state.parse_id(" <script> ") == "<script>"  # the page reports it as an unknown user, escaped


@pytest.mark.parametrize("raw", ["../etc/passwd.pt", "/abs/default.pt", "default", ".hidden.pt", "a/b.pt"])
def test_parse_model_only_takes_a_file_name(raw):
    with pytest.raises(ValueError):
        state.parse_model(raw)


def test_parse_genres_dedupes_and_limits():
    assert state.parse_genres("Rock, Pop,Rock") == ("Rock", "Pop")
    with pytest.raises(ValueError):
        state.parse_genres(",".join(f"g{i}" for i in range(30)))


def test_rank_moves_arrows_and_new_entries():
    moves = tables.rank_moves(["b", "a", "d", "c"], ["a", "b", "c", "x"])
    assert moves == ["▲ 1", "▼ 1", "✦ new", "▼ 1"]
    assert tables.move_summary(moves) == "1 up · 2 down · 1 new"
    assert tables.rank_moves(["a"], None) == [""]
    assert tables.move_summary(tables.rank_moves(["a", "b"], ["a", "b"])) == "same order"


def test_markdown_escaping_neutralises_html_markdown_and_latex():
    text = md(f"{XSS} **bold** [x](javascript:alert(1)) $x$ :material/home:")
    for special in "<*[]()$:":  # every special character is backslash-escaped, so none acts as markup
        assert not re.search(rf"(?<!\\){re.escape(special)}", text), special


def test_genre_colours_are_stable_and_distinct():
    first = theme.genre_colors(["Rock", "Pop", "Jazz"])
    assert first == theme.genre_colors(["Jazz", "Rock", "Pop", "Jazz"])  # order and duplicates do not matter
    assert len({first[g] for g in ("Rock", "Pop", "Jazz")}) == 3
    assert first[theme.NO_GENRE] == theme.NO_GENRE_COLOR
    many = theme.genre_colors([f"g{i}" for i in range(40)])
    assert len(set(many.values())) == 41


def _subgraph(name: str) -> dict:
    return {
        "nodes": [
            {"id": "user:u1", "type": "user", "role": "user", "label": f"user {name}", "title": f"user: {name}"},
            {"id": "song:t1", "type": "song", "role": "candidate", "label": name, "title": f"song: {name}\nscore 1"},
            {"id": "song:t2", "type": "song", "role": "history", "label": "ok", "title": "song: ok"},
            {"id": "genre:g", "type": "genre", "role": "genre", "label": name, "title": f"genre: {name}"},
        ],
        "edges": [
            {"source": "user:u1", "target": "song:t1", "relation": "recommended", "weight": 2.0, "title": name},
            {"source": "user:u1", "target": "song:t2", "relation": "listened", "weight": 0.4, "title": "a <- b"},
            {"source": "song:t2", "target": "song:t1", "relation": "similar", "weight": -0.1, "title": "neg"},
            {"source": "song:t1", "target": "genre:g", "relation": "has_genre", "weight": 0.7, "title": name},
        ],
    }


def test_network_html_escapes_titles_and_labels():
    page = network.attention_graph_html(_subgraph(XSS))
    assert XSS not in page
    assert "<img" not in page
    assert "onerror=alert(1)>" not in page
    # the titles are HTML-escaped before pyvis JSON-encodes them (& and < become \u0026 and \u003c there)
    assert "\\u0026lt;img src=x onerror=alert(1)\\u0026gt;" in page
    assert "recsysTextTitles(nodes)" in page  # escaped text becomes a DOM element: shown literally, not as "&lt;"


def test_network_html_is_offline():
    page = network.attention_graph_html(_subgraph("plain"))
    tags = re.findall(r"<(?:script|link)\b[^>]*>", page, flags=re.IGNORECASE)
    assert tags, "the page still carries its inline scripts"
    for tag in tags:
        assert not re.search(r"(?:src|href)\s*=", tag, flags=re.IGNORECASE), tag
        assert "cdn" not in tag.lower() and "http" not in tag.lower(), tag
    assert "vis.Network" in page and 'id="legend"' in page


def test_network_widths_follow_weights_within_a_relation():
    widths = network._widths([{"relation": "listened", "weight": 0.5}, {"relation": "listened", "weight": 0.25},
                              {"relation": "recommended", "weight": 9.0}])
    assert widths == pytest.approx([9.0, 5.0, 9.0])


def test_plurals_and_clauses_read_as_sentences():
    from dashboard.components.text import clause, plural

    assert [plural(1, "song"), plural(2, "song"), plural(0, "edge"), plural(1204, "listener")] == [
        "1 song", "2 songs", "0 edges", "1,204 listeners"]
    assert plural(3, "match", "matches") == "3 matches"
    assert clause("unknown user 'x'; did you mean 'u0991', 'u0992'?") + "." == \
        "Unknown user 'x'; did you mean 'u0991', 'u0992'."  # not '?.'


def test_counts_are_whole_numbers_and_scores_have_three_decimals():
    import pandas as pd

    assert tables.number_format(pd.Series([201, 3])) == "%d"
    assert tables.number_format(pd.Series([0.25, 3.1])) == "%.3f"


@pytest.mark.parametrize(("count", "shape"), [(1, [1]), (3, [3]), (4, [2, 2]), (5, [3, 2]), (7, [3, 2, 2]),
                                              (9, [3, 3, 3]), (10, [3, 3, 2, 2])])
def test_compare_rows_are_balanced_and_no_list_is_alone(count, shape):
    names = [f"m{i}" for i in range(count)]
    rows = tables.balanced_rows(names, 3)
    assert [len(r) for r in rows] == shape
    assert [n for r in rows for n in r] == names  # every list once, in order


def test_graph_page_is_legible_by_default_and_its_legend_matches_the_drawing():
    page = network.attention_graph_html(_subgraph("plain"))
    assert 12 <= network.DEFAULT_NODES <= 15
    options = json.loads(re.search(r"var options = (\{.*?\});\n", page, flags=re.DOTALL).group(1))
    assert options["nodes"]["font"]["face"].startswith('"RecsysSans"')  # the app's font, also in tooltips:
    assert "div.vis-tooltip" in page and f"font-family: {network.FONT_STACK}" in page
    legend = network.legend_html()
    for role, shape in theme.NODE_SHAPES.items():  # one glyph per node role, drawn in the node's shape and colour
        assert f'fill="{theme.NODE_COLORS[role]}">{network._SHAPES[shape]}' in legend
    for color, label in network.EDGE_KEY.values():  # and a line per edge colour
        assert f'stroke="{color}"' in legend and label.split(":")[0] in legend
    assert network.MIN_LABEL_PX >= 12 and "minLabelPx" in page  # labels are enlarged to it after the layout


def test_training_time_is_the_reports_when_it_holds_the_same_run(checkpoint_dir, tmp_path):
    import shutil

    from dashboard import resources
    from dashboard.components import report

    folder = tmp_path / "ckpt"
    folder.mkdir()
    shutil.copy(checkpoint_dir / "default.pt", folder / "default.pt")
    from recsys import Recommender

    card = Recommender.load(folder / "default.pt").model_card()
    epochs = card["training"]["epochs"]
    (folder / "default.eval.json").write_text(json.dumps({"models": {"enhanced_gat": {"train_s": 51.7,
                                                                                       "epochs": epochs}}}))
    assert report.training_seconds(card)[0] == 51.7  # the card shows the table's figure
    (folder / "default.eval.json").write_text(json.dumps({"models": {"enhanced_gat": {"train_s": 51.7,
                                                                                       "epochs": epochs + 1}}}))
    resources._read_report.clear()  # the stamp may not move within the clock tick
    assert report.training_seconds(card)[0] == card["training"]["seconds"]  # another run: the checkpoint's own
