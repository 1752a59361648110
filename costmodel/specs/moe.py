"""The mixture-of-experts MLP of a decoder layer (Mixtral, Qwen3-MoE; Qwen2-MoE's shared expert).

Every MoE layer replaces the dense MLP by: a router Linear(h, E) without bias, top-k selection
over its softmax, E SwiGLU experts of width I (gate and up h -> I, down I -> h, no biases) of
which each token runs k, and optionally one always-on shared SwiGLU expert of width S whose
output is scaled by sigmoid(Linear(h, 1)) (Qwen2-MoE's `shared_expert_gate`).
Parameter counts are closed forms written once here (the transformers modules:
MixtralSparseMoeBlock / Qwen3MoeSparseMoeBlock / Qwen2MoeSparseMoeBlock); docs/methodology.md,
section "Mixture of experts".
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, NonNegativeInt, PositiveInt, model_validator


class MoESpec(BaseModel):
    """Experts of every decoder layer (a model whose layers are all MoE layers)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    num_experts: PositiveInt  # E, routed experts per layer
    experts_per_token: PositiveInt  # k, top-k experts each token runs
    expert_intermediate_size: PositiveInt  # I, width of one routed expert
    shared_expert_intermediate_size: NonNegativeInt = 0  # S; 0 = no shared expert
    shared_expert_gate: bool = False  # sigmoid(Linear(h, 1)) scales the shared expert
    # Renormalise the k routing weights to sum to 1 (k divisions a token: cost-free here).
    norm_topk_prob: bool = False
    # Expert parallelism: this spec is one GPU's share, num_experts / ep routed experts of the
    # E (core/parallel/tensor.shard_spec sets it; 1 = all experts, the model as loaded).
    ep: PositiveInt = 1

    @model_validator(mode="after")
    def _check(self) -> MoESpec:
        if self.experts_per_token > self.num_experts:
            raise ValueError(f"moe.experts_per_token: {self.experts_per_token} exceeds "
                             f"num_experts {self.num_experts}")
        if self.shared_expert_gate and not self.shared_expert_intermediate_size:
            raise ValueError("moe.shared_expert_gate: there is no shared expert to gate; set "
                             "shared_expert_intermediate_size")
        if self.num_experts % self.ep:
            raise ValueError(f"moe.ep: {self.ep} does not divide the {self.num_experts} experts")
        return self

    @property
    def local_experts(self) -> int:
        """Routed experts one GPU holds: E / ep."""
        return self.num_experts // self.ep

    def expert_params(self, hidden: int) -> int:
        """One routed expert: gate and up (h x I) and down (I x h)."""
        return 3 * hidden * self.expert_intermediate_size

    def always_on_params(self, hidden: int) -> int:
        """What every token uses: the router (E x h) and the shared expert with its gate."""
        shared = 3 * hidden * self.shared_expert_intermediate_size
        return self.num_experts * hidden + shared + (hidden if self.shared_expert_gate else 0)

    def layer_params(self, hidden: int) -> int:
        """All parameters of one MoE MLP (of one GPU's share under expert parallelism): router +
        E / ep experts + shared expert (router and shared expert replicated)."""
        return self.always_on_params(hidden) + self.local_experts * self.expert_params(hidden)

    def active_layer_params(self, hidden: int) -> int:
        """Parameters one token uses in one MoE MLP: router + k experts + shared expert."""
        return self.always_on_params(hidden) + self.experts_per_token * self.expert_params(hidden)
