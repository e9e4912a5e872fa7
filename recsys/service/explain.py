"""Explanations that are true to what the model computed, for trained and folded-in listeners alike.

Every number comes from the model's own tensors: the score decomposition is exact (graph embedding +
item-item + genre weight x genre influence = score), attention weights are the coefficients of the
propagation, item-item contributions are the terms of the model's own sum, and counterfactuals re-run the
model without the removed plays. Parts a model does not have are neither listed nor named in the sentence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from recsys.graph.edit import without_listens
from recsys.models import GATRecommender
from recsys.models.gat import artist_overlap, genre_overlap
from recsys.service.attention import USER_FROM_SONGS, AttentionMaps
from recsys.service.catalogue import Catalogue
from recsys.service.foldin import FoldIn
from recsys.service.listener import Listener
from recsys.service.ranking import NO_HISTORY, Ranker
from recsys.service.runs import ModelRuns

if TYPE_CHECKING:
    from recsys.service.recommender import Recommender

COUNTERFACTUAL_CANDIDATES = 40  # history songs re-scored exactly; larger histories are screened by contribution
RECOMMENDED_RANK = 100  # the sentence calls a song "recommended" only within the listener's top this many
MENTIONED_PART = 0.005  # parts smaller than this (in score units) are left out of the sentence
PART_LABELS = {"graph": "graph embedding", "history": "listening history (songs played together)",
               "genre": "genre match"}


class Rescorer:
    """The exact score of a pair after removing some of the listener's plays: the model re-run on the edited
    training graph (a trained user), or the history folded in again without them (a folded-in history)."""

    def __init__(self, graph, runs: ModelRuns, folding: FoldIn, ranker: Ranker) -> None:
        self.graph, self.runs, self.folding, self.ranker = graph, runs, folding, ranker

    def __call__(self, listener: Listener, removed: list[int], song: int, weight: float) -> float:
        if listener.folded:
            keep = ~torch.isin(listener.history, torch.tensor(removed))
            edited = self.folding.from_indices(listener.history[keep], listener.plays[keep])
            return self.ranker.decompose(edited, song, weight)["score"]
        edited_graph = without_listens(self.graph, listener.index, removed)
        return self.runs.score_with_graph(edited_graph, listener.index, song, weight)


class Explainer:
    """Builds explanation dicts from the ranking, the attention maps and the model's own parameters."""

    def __init__(self, model: GATRecommender, ranker: Ranker, catalogue: Catalogue, attention: AttentionMaps,
                 capabilities: dict[str, bool], rescore: Rescorer, model_type: str) -> None:
        self.model, self.ranker, self.catalogue, self.attention = model, ranker, catalogue, attention
        self.scorer, self.maps = ranker.scorer, catalogue.maps
        self.capabilities, self.rescore, self.model_type = capabilities, rescore, model_type

    # ---- evidence -------------------------------------------------------------------------------------------
    def contributions(self, listener: Listener, song: int) -> list[dict[str, Any]]:
        """Each history song's share of the base score, strongest first.

        item_item: the song's exact term in the item-item sum (beta * B[i, song] / sigma).
        attention: its first-hop path into the listener's embedding: (1 / (L + 1)) * scale * sum over heads of
        alpha[user <- i, h] * <e_i[h], z_song[h]> / sigma, with alpha the first layer's coefficient. This is the
        layer-1 term of the embedding score (deeper terms are not attributed).
        """
        scorer, model, history = self.scorer, self.model, listener.history
        if len(history) == 0:
            return []
        item_item = torch.zeros(len(history))
        if scorer.uses_item_item:
            sources, weights = scorer.item_item.contributions(history, song)
            position = {int(s): i for i, s in enumerate(history.tolist())}
            for source, weight in zip(sources.tolist(), weights.tolist(), strict=True):
                item_item[position[source]] = scorer.item_item_weight * weight / scorer.scale
        attention = self.attention.into(USER_FROM_SONGS, listener.node, history, listener=listener)  # [n, H]
        with torch.no_grad():
            ego = model.ego("song", history).view(len(history), model.heads, -1)  # [n, H, d]
            layer_scale = float(model.layers[0].scale(USER_FROM_SONGS))
        target = scorer.song_emb[song].view(model.heads, -1)  # [H, d]
        path = (attention * (ego * target).sum(-1)).sum(1) * layer_scale / ((model.num_layers + 1) * scorer.scale)
        total = item_item + path
        order = torch.argsort(total, descending=True)
        return [{**self.catalogue.track_info(int(history[i])), "item_item": float(item_item[i]),
                 "attention_path": float(path[i]), "attention": float(attention[i].mean()), "total": float(total[i])}
                for i in order.tolist()]

    def genre_details(self, listener: Listener, song: int) -> dict[str, Any] | None:
        """Common genres (each with name and top-level parent), or None for a model without genres."""
        if not self.capabilities["genre"]:
            return None
        details = genre_overlap(listener.genres, listener.affinity, *self.scorer.song_genres(song))
        for detail in details["genre_details"]:
            detail["genre"] = self.maps.genre.name_of(detail["genre_idx"])
            detail["parent"] = self.catalogue.genre_parent(detail["genre"])
        return details

    def by_parent(self, details: dict[str, Any] | None) -> list[dict[str, Any]]:
        """Genre influence rolled up to top-level genres, largest first."""
        rolled: dict[str, dict[str, Any]] = {}
        for detail in (details or {}).get("genre_details", []):
            root = detail["parent"] or detail["genre"]
            entry = rolled.setdefault(root, {"genre": root, "contribution": 0.0, "children": []})
            entry["contribution"] += detail["contribution"]
            if detail["parent"]:
                entry["children"].append(detail["genre"])
        return sorted(rolled.values(), key=lambda e: e["contribution"], reverse=True)

    def parts(self, numbers: dict[str, float]) -> list[dict[str, Any]]:
        """The score's parts the model has: name, label, value, share of the parts' total magnitude."""
        values = {"graph": numbers["embedding_score"], "history": numbers["item_item_score"],
                  "genre": numbers["genre_score"]}
        present = [name for name in ("graph", "history", "genre") if self.capabilities[name]]
        magnitude = sum(abs(values[n]) for n in present)
        return [{"name": n, "label": PART_LABELS[n], "value": values[n],
                 "share": abs(values[n]) / magnitude if magnitude else 0.0} for n in present]

    def named_attention(self, listener: Listener, song: int) -> list[dict[str, Any]]:
        raw = self.attention.strongest_into(listener, song)
        for block in raw:
            src_type = block["relation"][0]
            block["target_id"] = (listener.user_id if block["target_type"] == "user"
                                  else self.maps[block["target_type"]].id_of(block["target"]))
            for edge in block["edges"]:
                edge["source_type"] = src_type
                edge["source_id"] = self.maps[src_type].id_of(edge["source"])
                edge["source_name"] = self.maps[src_type].name_of(edge["source"])
        return raw

    def counterfactuals(self, listener: Listener, song: int, weight: float, score: float,
                        contributions: list[dict[str, Any]], top: int = 10) -> dict[str, Any]:
        """Re-score the pair without each candidate history song (exact, model re-run); biggest drops first."""
        candidates = [self.maps.song.index(c["track_id"]) for c in contributions[:COUNTERFACTUAL_CANDIDATES]]
        results = []
        for candidate in candidates:
            without = self.rescore(listener, [candidate], song, weight)
            results.append({**self.catalogue.track_info(candidate), "score_without": without, "drop": score - without})
        results.sort(key=lambda r: r["drop"], reverse=True)
        lowering = [r for r in results if r["drop"] > 0]
        joint = None
        if len(lowering) >= 2:
            removed = [self.maps.song.index(r["track_id"]) for r in lowering[:3]]
            without = self.rescore(listener, removed, song, weight)
            joint = {"track_ids": [self.maps.song.id_of(s) for s in removed], "score_without": without,
                     "drop": score - without}
        return {"candidates_rescored": len(candidates), "history_size": len(contributions), "items": results[:top],
                "top_removed_together": joint}

    # ---- the explanation ------------------------------------------------------------------------------------
    def explain(self, listener: Listener, song: int, genre_weight: float | None,
                counterfactual: bool = False) -> dict[str, Any]:
        """The full explanation of one (listener, song) pair as a JSON-serialisable dict."""
        weight = self.ranker.weight(listener, genre_weight)
        numbers = self.ranker.decompose(listener, song, weight)
        rank = self.ranker.rank(listener, song, weight)
        info = self.catalogue.track_info(song)
        genre = self.genre_details(listener, song)
        artist = artist_overlap(self.catalogue.graph, listener.history, listener.plays, listener.vector,
                                self.scorer.song_emb, song)
        artist.update({"artist_id": self.maps.artist.id_of(artist["artist_idx"]),
                       "artist": self.maps.artist.name_of(artist["artist_idx"])})
        contributions = self.contributions(listener, song)
        parts = self.parts(numbers)
        largest = max(parts, key=lambda p: abs(p["value"]))["name"]
        out = {
            "user_id": listener.user_id, "user_name": listener.name, "folded_in": listener.folded, **info,
            "rank": rank, "already_listened": rank is None, **numbers,
            "parts": parts, "largest_part": largest,
            "genre_influence_details": genre,
            "genre_influence_by_parent": self.by_parent(genre),
            "artist_influence": artist,
            "history_contributions": contributions[:10],
            "attention": self.named_attention(listener, song),
            "model_type": self.model_type,
            "strategy": "personalised",
        }
        out["sentence"] = sentence(listener, info, rank, numbers, parts, genre, contributions)
        if len(listener.history) == 0:  # `recommend` gives such a listener the popular songs, not the model's
            listeners, place = self.catalogue.popularity_place(song)
            out.update(strategy=NO_HISTORY, rank=place, popularity={"listeners": listeners, "rank": place})
            where = "" if listener.folded else " in the training data"
            out["sentence"] = (f"{listener.name} has no listening history{where}, so their recommendations are the "
                               f"most popular songs: “{info['title']}” by {info['artist']} is #{place} by popularity "
                               f"({_count(listeners, 'listener')}). The model's own score for the pair is "
                               f"{numbers['score']:.2f}, but it is not used to rank songs for this listener.")
        if counterfactual:
            out["counterfactual"] = self.counterfactuals(listener, song, weight, numbers["score"], contributions)
        return out


def sentence(listener: Listener, info: dict[str, Any], rank: int | None, numbers: dict[str, float],
             parts: list[dict[str, Any]], genre: dict[str, Any] | None, contributions: list[dict[str, Any]]) -> str:
    """Plain sentences a stakeholder understands, built only from the numbers of the explanation.

    They name the largest part of the score first, whichever it is, and only parts the model has. "is
    recommended" is said only for a song in the listener's top RECOMMENDED_RANK.
    """
    name = listener.name
    song = f"“{info['title']}” by {info['artist']}"
    if rank is None:
        text = f"{song} is already in {name}'s listening history."
    elif rank <= RECOMMENDED_RANK:
        text = f"{song} is recommended (#{rank}) for {name}."
    else:
        text = f"{song} ranks #{rank:,} for {name}, so it is not among the recommendations."
    ordered = sorted(parts, key=lambda p: abs(p["value"]), reverse=True)
    largest, score = ordered[0], numbers["score"]
    described = {p["name"]: _describe(p["name"], listener, numbers, genre, contributions) for p in parts}
    lead = "Most of its score" if largest["share"] >= 0.5 else "The largest part of its score"
    text += f" {lead} ({largest['value']:+.2f} of {score:.2f}) comes from {described[largest['name']]}."
    rest = [f"{p['value']:+.2f} from {described[p['name']]}" for p in ordered[1:] if abs(p["value"]) >= MENTIONED_PART]
    if rest:
        text += " It also gets " + "; and ".join(rest) + "."
    return text + " The score is the sum of these parts; a higher score ranks a song higher."


def _describe(part: str, listener: Listener, numbers: dict[str, float], genre: dict[str, Any] | None,
              contributions: list[dict[str, Any]]) -> str:
    name = listener.name
    if part == "graph":
        return f"the graph embedding (what listeners whose plays resemble {name}'s also play)"
    if part == "history":
        played = [c for c in sorted(contributions, key=lambda c: c["item_item"], reverse=True)[:2]
                  if c["item_item"] > 0]
        if not played:
            return f"{name}'s listening history (songs played together with it)"
        titles = " and ".join(f"“{c['title']}”" for c in played)
        return f"{name}'s plays of {titles}, which are often played together with it"
    details = (genre or {}).get("genre_details") or []
    if not details:
        return f"genre match (genre weight {numbers['genre_weight']:.2f})"
    top = details[0]
    shares = dict(zip(listener.genres.tolist(), listener.shares.tolist(), strict=True))
    label = top["genre"] + (f", part of {top['parent']}" if top["parent"] else "")
    return (f"its genre, {label}, {100 * shares.get(top['genre_idx'], 0.0):.0f}% of {name}'s listening "
            f"(genre weight {numbers['genre_weight']:.2f})")


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def history_contributions(rec: Recommender, user: int, song: int) -> list[dict[str, Any]]:
    """`Explainer.contributions` of a trained user by node index (the faithfulness measures use it)."""
    return rec.explainer.contributions(rec.profiles.listener(user), song)
