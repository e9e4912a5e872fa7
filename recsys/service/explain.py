"""Explanations that are true to what the model computed.

Every number comes from the model's own tensors: the score decomposition is exact (base + weight x genre
influence = score), attention weights are the coefficients of the forward pass, item-item contributions are
the terms of the model's own sum, and counterfactuals re-run the model on an edited graph.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch

from recsys.graph.edit import without_listens
from recsys.models.gat import explain_artist_influence, explain_genre_influence, top_incoming_attention

if TYPE_CHECKING:
    from recsys.service.recommender import Recommender

COUNTERFACTUAL_CANDIDATES = 40  # history songs re-scored exactly; larger histories are screened by contribution
TOP_ATTENTION_EDGES = 5
RECOMMENDED_RANK = 100  # the sentence calls a song "recommended" only within the user's top this many
USER_FROM_SONGS = ("song", "rev_listens", "user")


def history_contributions(rec: Recommender, user: int, song: int) -> list[dict[str, Any]]:
    """Each history song's share of the base score, strongest first.

    item_item: the song's exact term in the item-item sum (beta * B[i, song] / sigma).
    attention: its first-hop path into the user's embedding: (1 / (L + 1)) * scale * sum over heads of
    alpha[user <- i, h] * <e_i[h], z_song[h]> / sigma, with alpha the first layer's coefficient. This is the
    layer-1 term of the embedding score (deeper terms are not attributed).
    """
    scorer, model = rec.scorer, rec.model
    history = scorer.history(user)
    if len(history) == 0:
        return []
    item_item = torch.zeros(len(history))
    if scorer.uses_item_item:
        sources, weights = scorer.item_item.contributions(history, song)
        position = {int(s): i for i, s in enumerate(history.tolist())}
        for source, weight in zip(sources.tolist(), weights.tolist(), strict=True):
            item_item[position[source]] = scorer.item_item_weight * weight / scorer.scale
    attention = _attention_into(rec, USER_FROM_SONGS, user, history)  # [n, H]
    with torch.no_grad():
        ego = model._embed("song", history).view(len(history), model.heads, -1)  # [n, H, d]
    target = scorer.song_emb[song].view(model.heads, -1)  # [H, d]
    layer_scale = float(model.layers[0].scale(USER_FROM_SONGS).detach())
    path = (attention * (ego * target).sum(-1)).sum(1) * layer_scale / ((model.num_layers + 1) * scorer.scale)
    total = item_item + path
    order = torch.argsort(total, descending=True)
    return [{**rec.track_info(int(history[i])), "item_item": float(item_item[i]), "attention_path": float(path[i]),
             "attention": float(attention[i].mean()), "total": float(total[i])} for i in order.tolist()]


def _attention_into(rec: Recommender, relation: tuple[str, str, str], target: int, sources: torch.Tensor,
                    layer: int = 0) -> torch.Tensor:
    """[len(sources), heads] coefficients of the edges sources -> target in one layer (0 where absent)."""
    edge_index, alpha = rec.attention()[layer][relation]
    mine = (edge_index[1] == target).nonzero().flatten()
    out = torch.zeros(len(sources), alpha.size(1))
    where = {int(s): i for i, s in enumerate(sources.tolist())}
    for e in mine.tolist():
        i = where.get(int(edge_index[0, e]))
        if i is not None:
            out[i] = alpha[e]
    return out


def counterfactuals(rec: Recommender, user: int, song: int, weight: float, score: float,
                    contributions: list[dict[str, Any]], top: int = 10) -> dict[str, Any]:
    """Re-score the pair without each candidate history song (exact, model re-run); biggest drops first."""
    candidates = [rec.track_index(c["track_id"]) for c in contributions[:COUNTERFACTUAL_CANDIDATES]]
    results = []
    for candidate in candidates:
        edited = without_listens(rec.graph, user, [candidate])
        without = rec.score_with_graph(edited, user, song, weight)
        results.append({**rec.track_info(candidate), "score_without": without, "drop": score - without})
    results.sort(key=lambda r: r["drop"], reverse=True)
    lowering = [r for r in results if r["drop"] > 0]
    joint = None
    if len(lowering) >= 2:
        removed = [rec.track_index(r["track_id"]) for r in lowering[:3]]
        without = rec.score_with_graph(without_listens(rec.graph, user, removed), user, song, weight)
        joint = {"track_ids": [rec.maps.song.id_of(s) for s in removed], "score_without": without,
                 "drop": score - without}
    return {"candidates_rescored": len(candidates), "history_size": len(contributions), "items": results[:top],
            "top_removed_together": joint}


def _named_attention(rec: Recommender, user: int, song: int) -> list[dict[str, Any]]:
    raw = top_incoming_attention(rec.attention(), {"user": user, "song": song}, TOP_ATTENTION_EDGES)
    for block in raw:
        src_type = block["relation"][0]
        block["target_id"] = rec.maps[block["target_type"]].id_of(block["target"])
        for edge in block["edges"]:
            edge["source_type"] = src_type
            edge["source_id"] = rec.maps[src_type].id_of(edge["source"])
            edge["source_name"] = rec.maps[src_type].name_of(edge["source"])
    return raw


def sentence(rec: Recommender, user: int, parts: dict[str, Any], info: dict[str, Any],
             genre: dict[str, Any] | None, artist: dict[str, Any], contributions: list[dict[str, Any]],
             rank: int | None) -> str:
    """One plain sentence a stakeholder understands, built only from the numbers of the explanation.

    It says "is recommended" only for a song in the user's top RECOMMENDED_RANK; for any other song it gives
    the song's rank and what speaks for it, so explaining an arbitrary song never claims it was recommended.
    """
    name = rec.maps.user.name_of(user)
    reasons = []
    because = [c for c in contributions[:3] if c["total"] > 0]
    if because:
        titles = [f"“{c['title']}”" for c in because]
        listed = titles[0] if len(titles) == 1 else ", ".join(titles[:-1]) + f" and {titles[-1]}"
        reasons.append(f"{name} played {listed}, which listeners of this song also play")
    if artist["songs_played_by_artist"]:
        reasons.append(f"they already played {artist['songs_played_by_artist']} song(s) by {info['artist']} "
                       f"({artist['user_plays_of_artist']} plays)")
    if genre and genre["genre_details"]:
        top = genre["genre_details"][0]
        share = rec._raw_genre_shares(user)
        shares = dict(zip(share[0].tolist(), share[1].tolist(), strict=True))
        pct = 100 * shares.get(top["genre_idx"], 0.0)
        reasons.append(f"it is {top['genre']}, {pct:.0f}% of their listening")
    text = f"“{info['title']}” by {info['artist']} "
    if rank is None:
        text += f"is already in {name}'s listening history"
        text += ("; the model's evidence: " + "; ".join(reasons)) if reasons else ""
    elif rank <= RECOMMENDED_RANK:
        text += f"is recommended (#{rank})"
        text += (" because " + "; ".join(reasons)) if reasons else " from patterns shared with similar listeners"
    else:
        text += f"ranks #{rank:,} for {name}, so it is not among the recommendations"
        text += ("; what speaks for it: " + "; ".join(reasons)) if reasons else ""
    text += (f". Genre match adds {parts['genre_score']:+.2f} to a score of {parts['score']:.2f}"
             f" (genre weight {parts['genre_weight']:.2f}).")
    return text


def explain(rec: Recommender, user: int, song: int, genre_weight: float | None,
            counterfactual: bool) -> dict[str, Any]:
    """The full explanation of one (user, song) pair as a JSON-serialisable dict."""
    scorer = rec.scorer
    weight = rec._weight(user, genre_weight)
    parts = scorer.decompose(user, song, weight)
    base, influence = rec._user_rows(user)
    scores = base + weight * influence
    history = scorer.history(user)
    listened = bool(torch.isin(torch.tensor([song]), history).item())
    ranked = scores.clone()
    ranked[history] = -math.inf
    rank = None if listened else int((ranked > ranked[song]).sum()) + 1
    info = rec.track_info(song)
    genre = explain_genre_influence(scorer, user, song)
    if genre is not None:
        for detail in genre["genre_details"]:
            detail["genre"] = rec.maps.genre.name_of(detail["genre_idx"])
    artist = explain_artist_influence(rec.graph, scorer, user, song)
    artist.update({"artist_id": rec.maps.artist.id_of(artist["artist_idx"]),
                   "artist": rec.maps.artist.name_of(artist["artist_idx"])})
    contributions = history_contributions(rec, user, song)
    out = {
        "user_id": rec.maps.user.id_of(user), "user_name": rec.maps.user.name_of(user), **info,
        "rank": rank, "already_listened": listened, **parts,
        "decomposition_check": abs(parts["base_score"] + parts["genre_weight"] * parts["genre_influence"]
                                   - parts["score"]),
        "genre_influence_details": genre,
        "artist_influence": artist,
        "history_contributions": contributions[:10],
        "attention": _named_attention(rec, user, song),
        "model_type": rec.model_type,
    }
    out["sentence"] = sentence(rec, user, parts, info, genre, artist, contributions, rank)
    if len(history) == 0:  # `recommend` gives such a user the popular songs, not the model's ranking
        from recsys.service.recommender import NO_HISTORY

        listeners, place = rec._song_popularity(song)
        out["strategy"] = NO_HISTORY
        out["rank"] = place  # the song's place in this listener's list, as everywhere
        out["popularity"] = {"listeners": listeners, "rank": place}
        out["sentence"] = (f"{rec.maps.user.name_of(user)} has no listening history in the training data, so their "
                           f"recommendations are the most popular songs: “{info['title']}” by {info['artist']} is "
                           f"#{place} by popularity ({listeners} listener(s)). The model's own score for the pair is "
                           f"{parts['score']:.2f}, but it is not used to rank songs for this listener.")
    else:
        out["strategy"] = "personalised"
    if counterfactual:
        out["counterfactual"] = counterfactuals(rec, user, song, weight, parts["score"], contributions)
    return out
