"""`python -m recsys stats`: validate a dataset and print what the graph built from it holds."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="dataset folder")
    parser.add_argument("--split", default="train", choices=["train", "all"],
                        help="interactions that form the graph: train (default split if none given) or all")
    parser.add_argument("--seed", type=int, default=0, help="seed of the default random split (default 0)")
    parser.add_argument("--top-genres", type=int, default=35, help="genres listed in the distribution")


def run(args: argparse.Namespace) -> int:
    from recsys.cli.common import terminal_text
    from recsys.data import assign_split, load_dataset
    from recsys.graph import LISTENS, SONG_GENRE, build_graph

    dataset = load_dataset(args.data)
    rule = "all interactions"
    if args.split == "train":
        dataset, rule = assign_split(dataset, args.seed)
    graph = build_graph(dataset, args.split)
    print(f"dataset {terminal_text(args.data)} (fingerprint {dataset.fingerprint})")
    for key, value in dataset.summary().items():
        print(f"  {key:<22}{value:>12,}")
    print(f"graph from {args.split} interactions ({rule})")
    print("  nodes")
    for node_type in graph.node_types:
        print(f"    {node_type:<20}{graph[node_type].num_nodes:>12,}")
    print("  edges")
    for edge_type in graph.edge_types:
        print(f"    {'-'.join(edge_type):<34}{graph[edge_type].edge_index.size(1):>12,}")
    if SONG_GENRE in graph.edge_types:
        import torch

        store, listens = graph[SONG_GENRE], graph[LISTENS]
        plays = torch.zeros(graph["song"].num_nodes).index_add_(0, listens.edge_index[1], listens.plays)
        genre_plays = torch.zeros(graph["genre"].num_nodes).index_add_(
            0, store.edge_index[1], store.edge_weight * plays[store.edge_index[0]])
        total = float(genre_plays.sum()) or 1.0
        print("  genre distribution (share of plays in the graph)")
        for genre in torch.argsort(genre_plays, descending=True)[:args.top_genres].tolist():
            share = float(genre_plays[genre]) / total
            name = terminal_text(graph.id_maps.genre.name_of(genre), 24)
            print(f"    {name:<24}{share:>7.1%}  {'#' * round(share * 100)}")
    else:
        print("  no genre files: the Enhanced model will run without its genre parts")
    return 0
