"""Why this song? The score decomposition, genre and artist influence, the attention subgraph, the history songs
behind the score, and (on demand) what happens without each of them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from dashboard import resources, state
from dashboard.components import charts, controls, history_editor, network, tables, theme
from dashboard.components.text import md

if TYPE_CHECKING:  # importing recsys.Recommender imports torch (seconds): only when loading a model
    from recsys import Recommender

RELATIONS = {"listens": "listeners of the song", "rev_listens": "songs of the listener", "rev_by": "its artist",
             "rev_has_genre": "its genres", "rev_prefers": "the listener's genres"}


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


def attention_tables(blocks: list[dict[str, Any]]) -> None:
    """The strongest incoming attention edges of the listener and the song, per layer and relation."""
    for block in blocks:
        relation = block["relation"][1]
        st.markdown(f"**Layer {block['layer'] + 1}** · into the {md(block['target_type'])} from "
                    f"{md(RELATIONS.get(relation, relation))} ({block.get('incoming_edges', len(block['edges']))} "
                    "edges, strongest shown)")
        frame = pd.DataFrame([{"from": e["source_name"], "attention": e["weight"], "per head": e["per_head"]}
                              for e in block["edges"]])
        st.dataframe(frame, hide_index=True, width="stretch", column_config={
            "attention": st.column_config.ProgressColumn("attention", format="%.3f", min_value=0.0, max_value=1.0),
            "per head": st.column_config.BarChartColumn("per head", y_min=0.0)})


st.title("Why this song?")
loaded = resources.current()
rec, palette = loaded.rec, theme.genre_colors(loaded.rec.genres())
user = controls.user_picker(rec)
history_editor.editor(rec, loaded.key, user)
with st.container(border=True):
    song_col, weight_col = st.columns([3, 2], vertical_alignment="bottom", gap="large")
    with weight_col:
        adaptive = history_editor.profile(rec, loaded.key, user)["adaptive_genre_weight"]
        setting = controls.genre_weight_control(adaptive, stacked=True)
    with song_col:
        track = choose_track(rec, user, setting)

explanation = history_editor.explanation(rec, loaded.key, user, track, setting)
st.info(md(explanation["sentence"]), icon=":material/lightbulb:")
cells = st.columns(5)
cells[0].metric("Score", f"{explanation['score']:.3f}", border=True)
cells[1].metric("Rank", "listened" if explanation["rank"] is None else f"#{explanation['rank']:,}", border=True)
cells[2].metric("Genre weight", f"{explanation['genre_weight']:.2f}", border=True)
cells[3].metric("From history", f"{explanation['item_item_score']:+.3f}", border=True)
cells[4].metric("From genres", f"{explanation['genre_score']:+.3f}", border=True)

left, right = st.columns(2, gap="large")
left.subheader("Score decomposition", anchor=False)
left.plotly_chart(charts.score_waterfall(explanation), key="waterfall")
right.subheader("Genre influence", anchor=False)
genre = explanation.get("genre_influence_details") or {}
if genre.get("genre_details"):
    right.plotly_chart(charts.genre_influence(genre["genre_details"], palette), key="genre-influence")
    right.caption(f"Listener affinity x song strength per shared genre; their sum "
                  f"({explanation['genre_influence']:.3f}) times the genre weight adds "
                  f"{explanation['genre_score']:+.3f} to the score.")
else:
    right.info("This song shares no genre with the listener (or the model ignores genres).")

st.subheader("Attention subgraph", anchor=False)
max_nodes = st.slider("Nodes", 8, 60, 30, step=2, key="w.max_nodes", help="The strongest neighbours are kept")
graph = history_editor.subgraph(rec, loaded.key, user, track, max_nodes)
page = network.attention_graph_html(graph)
st.iframe(page, height=590, alt="Attention subgraph")
st.download_button("Download the graph (HTML)", page, f"attention_{user}_{track}.html", "text/html",
                   icon=":material/share:", on_click="ignore")

history_col, artist_col = st.columns([3, 2], gap="large")
with history_col:
    st.subheader("Songs from the history behind it", anchor=False)
    if explanation["history_contributions"]:
        st.plotly_chart(charts.history_bars(explanation["history_contributions"]), key="history")
    else:
        st.info("No history contributions (a listener without history gets popular songs).")
with artist_col:
    st.subheader("Artist influence", anchor=False)
    artist = explanation["artist_influence"]
    st.markdown(f"**{md(artist['artist'])}** · {artist['artist_songs_in_catalogue']} songs in the catalogue")
    a, b, c = st.columns(3)
    a.metric("Songs heard", artist["songs_played_by_artist"], help="songs by this artist in the history")
    b.metric("Plays", artist["user_plays_of_artist"], help="plays of this artist by the listener")
    c.metric("Similarity", f"{artist['similarity']:.2f}", help="cosine of listener and artist embeddings")
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
        st.plotly_chart(charts.counterfactual_bars(whatif["items"]), key="whatif")
        tables.tracks(pd.DataFrame(whatif["items"]), rec.genres(), palette, value="drop")
    joint = whatif.get("top_removed_together")
    if joint:
        st.caption(f"Without the top {len(joint['track_ids'])} together the score drops by {joint['drop']:.3f} "
                   f"(to {joint['score_without']:.3f}).")
st.download_button("Download this explanation (JSON)", tables.to_json(explanation), f"explanation_{user}_{track}.json",
                   "application/json", icon=":material/download:", on_click="ignore")
