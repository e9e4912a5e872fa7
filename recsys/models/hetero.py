"""One heterogeneous attention layer: every relation attends into its destination type, then scales combine.

Relations are grouped by scale. The *local* scale is the direct collaborative neighbourhood (user-song and
song-artist edges); the *global* scale goes through genre nodes. Each destination sums its local messages and
its global messages, weighted by two learned scale weights (the multi-scale attention of the seed design).
Per-relation attention coefficients are returned for explanations.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from recsys.models.attention import Adjacency, RelationAttention, SpMM

EdgeType = tuple[str, str, str]
GLOBAL_NODE = "genre"  # relations touching genre nodes form the global scale


def relation_key(edge_type: EdgeType) -> str:
    return "__".join(edge_type)


def scale_of(edge_type: EdgeType) -> str:
    return "global" if GLOBAL_NODE in (edge_type[0], edge_type[2]) else "local"


def _drop_unused_scales(module: nn.Module, state_dict: dict, prefix: str, *args: object) -> None:
    """Checkpoints written before unused scales were removed carry a global weight the Basic model never
    trained; loading them drops it instead of failing."""
    for scale in ("local", "global"):
        if scale not in module.log_scale:
            state_dict.pop(f"{prefix}log_scale.{scale}", None)


class HeteroAttentionLayer(nn.Module):
    """Attention over every relation of the graph, without feature transforms.

    Args:
        edge_types: relations (src, rel, dst) this layer propagates over.
        dim: embedding size, split evenly across ``heads``.
        heads: attention heads.
        attention: one of `recsys.config.ATTENTION_KINDS` (see `recsys.models.attention`).
        global_init: starting weight of the global (genre) scale relative to the local one (1.0).
        stop_gradient: attention scores do not back-propagate into the embeddings (see RelationAttention).
        temperature: similarity attention's starting temperature.
    """

    def __init__(self, edge_types: list[EdgeType], dim: int, heads: int, attention: str,
                 global_init: float = 0.1, stop_gradient: bool = True, temperature: float = 1.0) -> None:
        super().__init__()
        self.edge_types = list(edge_types)
        self.dim, self.heads = dim, heads
        self.attn = nn.ModuleDict({relation_key(et): RelationAttention(
            dim, heads, attention, stop_gradient=stop_gradient, temperature=temperature)
                                   for et in edge_types})
        self.global_init = global_init
        # log-weights, so the scales stay positive; local starts at 1, global small. Only scales that have
        # relations get a weight: a model without genre nodes has no global scale to learn.
        self.log_scale = nn.ParameterDict({scale: nn.Parameter(torch.zeros(()))
                                           for scale in sorted({scale_of(et) for et in edge_types}, reverse=True)})
        self.register_load_state_dict_pre_hook(_drop_unused_scales)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for module in self.attn.values():
            module.reset_parameters()
        with torch.no_grad():
            if "local" in self.log_scale:
                self.log_scale["local"].zero_()
            if "global" in self.log_scale:
                self.log_scale["global"].fill_(float(torch.log(torch.tensor(self.global_init))))

    def scale(self, edge_type: EdgeType) -> Tensor:
        """The learned weight of the scale this relation belongs to."""
        return self.log_scale[scale_of(edge_type)].exp()

    def forward(self, x_dict: dict[str, Tensor], adjs: dict[EdgeType, Adjacency], dropout: float = 0.0,
                read_dict: dict[str, Tensor] | None = None, fixed: bool = False,
                cosines: dict[EdgeType, Tensor] | None = None) -> tuple[dict[str, Tensor], dict[EdgeType, Tensor]]:
        """x_dict[type]: [N, H, d]. Returns the new embeddings per destination type and alpha [E, H] per relation.

        Args:
            read_dict: what the attention scores read ([N, H, d] per type) instead of ``x_dict``.
            fixed: propagate with the fixed normalisation (no attention): LightGCN with this layer's scales.
            cosines: similarity attention's edge cosines per relation (`edge_cosines` of ``read_dict``),
                computed once for all layers; without them each relation computes its own.

        A node type that receives no message keeps a zero vector at this layer, as in LightGCN.
        """
        out: dict[str, Tensor] = {}
        alphas: dict[EdgeType, Tensor] = {}
        for edge_type in self.edge_types:
            src, _, dst = edge_type
            adj = adjs.get(edge_type)
            if adj is None or src not in x_dict or dst not in x_dict:
                continue
            if fixed:
                alpha = adj.norm.unsqueeze(-1).expand(-1, self.heads).contiguous()
                message = SpMM.apply(adj, alpha, x_dict[src])
            else:
                read = None if read_dict is None else (read_dict[src], read_dict[dst])
                cosine = None if cosines is None else cosines.get(edge_type)
                message, alpha = self.attn[relation_key(edge_type)](adj, x_dict[src], x_dict[dst], dropout, read,
                                                                    cosine)
            message = self.scale(edge_type) * message
            out[dst] = message if dst not in out else out[dst] + message
            alphas[edge_type] = alpha
        for node_type, x in x_dict.items():
            out.setdefault(node_type, torch.zeros_like(x))
        return out, alphas
