"""Why this song? The score's parts (only those the model has), genre and artist influence, the attention
subgraph, the history songs behind the score, and (on demand) what happens without each of them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from dashboard import resources, state
from dashboard.components import charts, controls, history_editor, network, tables, theme
from dashboard.components.text import md, plural

if TYPE_CHECKING:  # importing recsys.Recommender imports torch (seconds): only when loading a model
    from recsys import Recommender

RELATIONS = {"listens": "listeners of the song", "rev_listens": "songs of the listener", "rev_by": "its artist",
             "rev_has_genre": "its genres", "rev_prefers": "the listener's genres"}
PART_HELP = {
    "graph": "What the graph attention network learned from who listens to what: the listener's and the song's "
             "embeddings, built from their neighbours in the listening graph",
    "history": "The songs in the listener's history that listeners of this song also play (item-item term)",
    "genre": "Genre weight x how well the song's genres match the listener's genre shares",
}
HOW_TO_READ = """
- **Score**: how strongly the model expects this listener to play the song. Songs are ranked by it; its scale
  means nothing on its own. The score is the exact sum of the parts shown, and only parts this model has.
- **Score parts** (waterfall): each bar adds its part; the percentage is its share of the parts' total size.
- **Genre influence** (models with a genre part): for each genre the song shares with the listener, listener
  affinity x song strength. *Roll up* groups sub-genres under their top-level genre.
- **Attention subgraph**: the listener (diamond, left) and the song (star, right), joined by the evidence the model
  weighed most; thicker edges weigh more. *Focus* keeps only the strongest paths from listener to song.
- **What if**: the model re-run without each history song; a big drop means the song mattered.
"""


def choose_track(rec: Recommender, user: str, setting: float | None) -> str:
    """A track from the listener's top list (or the one in the link, when the model knows it)."""
    frame = history_editor.recommend(rec, loaded.key, user, max(state.get("k"), 10), setting)
    labels = {r.track_id: f"#{r.rank} {r.title} · {r.artist}" for r in frame.itertuples()}
    track = state.get("track")
    if track is not None and track not in labels:
        label = controls.track_label(rec, track, "Explaining the top recommendation instead.")
        labels, track = ({track: label, **labels}, track) if label else (labels, None)
    if track is None:
        track = next(iter(labels))
    st.session_state["w.track"] = track
    st.selectbox("Song", list(labels), format_func=labels.get, key="w.track", on_change=controls.store,
                 args=("track", "w.track"))
    state.put("track", track)
    return track


def score_cells(explanation: dict[str, Any], genre_part: bool) -> None:
    """Score, rank and each part the model has, with what it means."""
    parts = explanation["parts"]
    cells = st.columns([1, 1, *[1.5] * len(parts), *[1] * genre_part])
    cells[0].metric("Score", f"{explanation['score']:.3f}", border=True, help=tables.SCORE_HELP)
    cells[1].metric("Rank", "listened" if explanation["rank"] is None else f"#{explanation['rank']:,}", border=True,
                    help="The song's place in this listener's list (songs they already played are left out)")
    for cell, part in zip(cells[2:], parts, strict=False):
        cell.metric(theme.PART_LABELS.get(part["name"], part["label"]), f"{part['value']:+.3f}", f"{part['share']:.0%}",
                    delta_color="off",
                    delta_arrow="off", border=True, help=f"{PART_HELP.get(part['name'], '')}. "
                    f"{part['share']:.0%} of the score's parts in size.")
    if genre_part:
        cells[-1].metric("Genre weight", f"{explanation['genre_weight']:.2f}", border=True,
                         help="How much the genre match counts (0-1)")


def genre_section(explanation: dict[str, Any], palette: dict[str, str]) -> None:
    """Each shared genre's contribution, or per parent genre when rolled up."""
    st.subheader("Genre influence", anchor=False)
    rollup = st.toggle("Roll up to parent genres", key="w.explain_rollup",
                       help="Group sub-genres (e.g. Indie Rock) under their top-level genre (Rock)")
    details = (explanation.get("genre_influence_details") or {}).get("genre_details") or []
    if not details:
        st.info("This song shares no genre with the listener.", icon=":material/label_off:")
        return
    if rollup:
        groups = explanation["genre_influence_by_parent"]
        st.plotly_chart(charts.genre_groups(groups, palette), key="genre-influence", config=charts.CONFIG)
    else:
        st.plotly_chart(charts.genre_influence(details, palette), key="genre-influence", config=charts.CONFIG)
    st.caption(f"Listener affinity x song strength per shared genre; their sum "
               f"({explanation['genre_influence']:.3f}) times the genre weight adds "
               f"{explanation['genre_score']:+.3f} to the score.")


def attention_tables(blocks: list[dict[str, Any]]) -> None:
    """The strongest incoming attention edges of the listener and the song, per layer and relation."""
    for block in blocks:
        relation = block["relation"][1]
        edges = block.get("incoming_edges", len(block["edges"]))
        st.markdown(f"**Layer {block['layer'] + 1}** · into the {md(block['target_type'])} from "
                    f"{md(RELATIONS.get(relation, relation))} ({plural(edges, 'edge')}, strongest shown)")
        frame = pd.DataFrame([{"from": e["source_name"], "attention": e["weight"], "per head": e["per_head"]}
                              for e in block["edges"]])
        top = max(1.0, float(frame["attention"].max())) if len(frame) else 1.0
        st.dataframe(frame, hide_index=True, width="stretch", column_config={
            "from": st.column_config.TextColumn("from", width="medium"),
            "attention": st.column_config.ProgressColumn("attention", format="%.3f", min_value=0.0, max_value=top,
                                                         width="small"),
            "per head": st.column_config.BarChartColumn("per head", y_min=0.0, width="small")})


def graph_section(rec: Recommender, key: str, user: str, track: str, setting: float | None) -> None:
    """The attention subgraph at a legible size, built with the genre weight on screen; focus: top paths only."""
    st.subheader("Attention subgraph", anchor=False)
    nodes_col, focus_col = st.columns([3, 1], vertical_alignment="bottom")
    max_nodes = nodes_col.slider("Nodes", 8, 40, network.DEFAULT_NODES, step=1, key="w.max_nodes",
                                 help="The strongest neighbours are kept; above about 20 the labels get crowded")
    focus = focus_col.toggle("Focus", key="w.focus", help="Only the strongest paths from the listener to the song")
    graph = history_editor.subgraph(rec, key, user, track, max_nodes, genre_weight=setting, focus=focus)
    page = network.attention_graph_html(graph)
    st.caption(f"{plural(len(graph['nodes']), 'node')}, {plural(len(graph['edges']), 'edge')}"
               + (" · focus: top paths only" if focus else ""))
    st.iframe(page, height=620, alt="Attention subgraph")
    st.download_button("Download the graph (HTML)", page, f"attention_{user}_{track}.html", "text/html",
                       icon=":material/share:", on_click="ignore")


def faithfulness_note(rec: Recommender) -> None:
    """What the stored faithfulness measures say about these explanations (or how to measure them)."""
    found = rec.faithfulness()
    measured = (found or {}).get("attention_fidelity")
    if not measured:
        st.caption("How faithful are these explanations? Measure it with `python -m recsys faithfulness "
                   f"--checkpoint {md(rec.checkpoint)} --store`.")
        return
    graph_part = (f" For the graph-embedding part of the score alone (the part attention computes) it is "
                  f"{measured['graph_ratio']:.1f}x." if measured.get("graph_ratio") is not None else "")
    st.caption(f"Faithfulness, measured on {plural(measured['users'], 'listener')}: removing the "
               f"{measured['k']} listens with the highest attention lowers the top song's score by "
               f"{measured['top_drop']:.3f}, {measured['ratio']:.1f}x as much as removing {measured['k']} random "
               f"ones ({measured['random_drop']:.3f}).{graph_part}")
    auc = found.get("attention_auc")
    if auc:
        st.caption(f"On this data's known genre preferences, the attention ranks a listener's listens in their "
                   f"preferred genres above their other listens {auc['attention']:.0%} of the time (by chance: "
                   f"50%; the graph's fixed normalisation alone: {auc['normalisation']:.0%}), averaged over "
                   f"{plural(auc['users'], 'listener')}.")


st.title("Why this song?")
st.markdown("Why the model ranks a song where it does for a listener: the parts of its score, the genres, the "
            "listening graph it weighed, and what happens without each song the listener played.")
loaded = resources.current()
rec, palette = loaded.rec, theme.genre_colors(loaded.rec.genres())
caps = rec.capabilities
with st.expander("How to read this page", icon=":material/help:"):
    st.markdown(HOW_TO_READ)
user = controls.user_picker(rec)
history_editor.editor(rec, loaded.key, user)
with st.container(border=True):
    song_col, weight_col = st.columns([3, 2], vertical_alignment="bottom", gap="large")
    setting = None
    if caps["genre"]:
        with weight_col:
            adaptive = history_editor.profile(rec, loaded.key, user)["adaptive_genre_weight"]
            setting = controls.genre_weight_control(adaptive, stacked=True)
    else:
        weight_col.caption("This model has no genre part, so there is no genre weight to set.")
    with song_col:
        track = choose_track(rec, user, setting)

explanation = history_editor.explanation(rec, loaded.key, user, track, setting)
st.info(md(explanation["sentence"]), icon=":material/lightbulb:")
score_cells(explanation, caps["genre"])

left, right = st.columns(2, gap="large")
with left:
    st.subheader("Score parts", anchor=False)
    st.plotly_chart(charts.score_waterfall(explanation["parts"], explanation["score"]), key="waterfall",
                    config=charts.CONFIG)
if caps["genre"]:
    with right:
        genre_section(explanation, palette)

graph_section(rec, loaded.key, user, track, setting)

history_col, artist_col = st.columns([3, 2], gap="large")
with history_col:
    st.subheader("Songs from the history behind it", anchor=False)
    if explanation["history_contributions"]:
        st.plotly_chart(charts.history_bars(explanation["history_contributions"], item_item=caps["history"]),
                        key="history", config=charts.CONFIG)
    else:
        st.info("No history contributions (a listener without history gets popular songs).")
with artist_col:
    st.subheader("Artist influence", anchor=False)
    artist = explanation["artist_influence"]
    st.markdown(f"**{md(artist['artist'])}** · {plural(artist['artist_songs_in_catalogue'], 'song')} in the "
                "catalogue")
    a, b, c = st.columns(3)
    a.metric("Songs heard", f"{artist['songs_played_by_artist']:,}", help="Songs by this artist in the history")
    b.metric("Plays", f"{artist['user_plays_of_artist']:,}", help="Plays of this artist by the listener")
    c.metric("Similarity", f"{artist['similarity']:.2f}", help="Cosine of the listener's and the artist's "
             "embeddings (-1 to 1)")
    with st.expander("Strongest attention edges"):
        attention_tables(explanation["attention"])

st.subheader("What if they had not played…", anchor=False)
wanted = (loaded.key, user, track, setting, history_editor.edited_history(rec, loaded.key, user))
if st.button("Run the what-if analysis", icon=":material/science:", key="w.whatif",
             help="Re-runs the model without each history song (up to 40 times): 1-3 s"):
    st.session_state["_whatif"] = wanted
if st.session_state.get("_whatif") == wanted:
    with st.spinner("Re-running the model without each history song…", show_time=True):
        explanation = history_editor.explanation(rec, loaded.key, user, track, setting, counterfactual=True)
    whatif = explanation["counterfactual"]
    if whatif["items"]:
        st.plotly_chart(charts.counterfactual_bars(whatif["items"]), key="whatif", config=charts.CONFIG)
        tables.tracks(pd.DataFrame(whatif["items"]), rec.genres(), palette, value="drop")
    joint = whatif.get("top_removed_together")
    if joint:
        st.caption(f"Without the top {len(joint['track_ids'])} together the score drops by {joint['drop']:.3f} "
                   f"(to {joint['score_without']:.3f}).")
faithfulness_note(rec)
st.download_button("Download this explanation (JSON)", tables.to_json(explanation), f"explanation_{user}_{track}.json",
                   "application/json", icon=":material/download:", on_click="ignore")
