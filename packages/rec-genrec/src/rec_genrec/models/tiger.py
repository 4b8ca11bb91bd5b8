"""``Tiger``: an encoder-decoder transformer that generates the next item's semantic ID (Rajput et al. 2023).

The encoder reads a user's tokens (:mod:`rec_genrec.data.sequences`: the user token, then
each history item's ``L`` code tokens, most recent last); the decoder writes the next item's
``L`` codes, one level at a time, after the start token. Each level has its own output
layer over that level's ``codebook_size`` codes, so the loss and the generation never
spend probability on a token that cannot stand at that place (a code of another level, a
user, padding).

Layers follow the paper's T5-style sizes: ``num_heads`` heads of ``head_dim`` each (the
attention width is ``num_heads * head_dim``, independent of ``embedding_dim``), a GELU
feed-forward of ``attn_dim``, pre-normalisation. Positions are learned and counted from the
end of the history, the first token (the user's) at position 0, so the most recent item
always sits at the same positions whatever the history's length or padding side.

Generation (:meth:`Tiger.generate`) encodes once and keeps each decoder layer's
cross-attention keys and values for all steps; the beams of a row share them (queries of
all beams attend to one copy of the row's memory), so beam width costs decoder work only.
The decoder runs one token per step, its self-attention keys and values cached and
reordered with the beams. Beam search and sampling are constrained to real items by a
:class:`~rec_genrec.models.trie.SemanticIdTrie` (:mod:`rec_genrec.models.trie`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from rec_core.errors import ConfigError, DataError
from rec_genrec.data.sequences import BOS_TOKEN, IGNORE_INDEX, PAD_TOKEN, SemanticIdVocabulary
from rec_genrec.models.trie import Generation, SemanticIdTrie, beam_search, sample

__all__ = ["Tiger", "TigerOutput"]

_KeyValue = tuple[torch.Tensor, torch.Tensor]


class TigerOutput(NamedTuple):
    """What :meth:`Tiger.forward` returns.

    Attributes:
        loss: Mean cross-entropy of the label codes (``None`` without labels).
        logits: ``(batch, L, codebook_size)``: each level's code scores under teacher forcing.
    """

    loss: torch.Tensor | None
    logits: torch.Tensor


class _Attention(nn.Module):
    """Multi-head attention of ``heads * head_dim`` width; keys and values may be computed once and reused."""

    def __init__(self, dim: int, heads: int, head_dim: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.head_dim, self.dropout = heads, head_dim, dropout
        self.query = nn.Linear(dim, heads * head_dim, bias=False)
        self.key_value = nn.Linear(dim, 2 * heads * head_dim, bias=False)
        self.out = nn.Linear(heads * head_dim, dim, bias=False)

    def keys_values(self, context: torch.Tensor) -> _KeyValue:
        """Return the keys and values of ``context`` ``(N, S, dim)``, each ``(N, heads, S, head_dim)``."""
        n, s, _ = context.shape
        key, value = self.key_value(context).view(n, s, 2, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        return key, value

    def forward(self, x: torch.Tensor, kv: _KeyValue, mask: torch.Tensor | None = None, *, causal: bool = False,
                groups: int = 1) -> torch.Tensor:
        """Attend from ``x`` ``(N, T, dim)`` to ``kv``; ``groups`` consecutive rows of ``x`` share one row of ``kv``."""
        n, t, _ = x.shape
        query = self.query(x).view(n // groups, groups * t, self.heads, self.head_dim).transpose(1, 2)
        attended = F.scaled_dot_product_attention(
            query, *kv, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0, is_causal=causal)
        return self.out(attended.transpose(1, 2).reshape(n, t, self.heads * self.head_dim))


class _FeedForward(nn.Sequential):
    def __init__(self, dim: int, hidden: int, dropout: float) -> None:
        super().__init__(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim))


class _EncoderLayer(nn.Module):
    def __init__(self, dim: int, heads: int, head_dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.attention_norm, self.attention = nn.LayerNorm(dim), _Attention(dim, heads, head_dim, dropout)
        self.feed_forward_norm, self.feed_forward = nn.LayerNorm(dim), _FeedForward(dim, hidden, dropout)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.attention_norm(x)
        x = x + self.dropout(self.attention(h, self.attention.keys_values(h), mask))
        return x + self.dropout(self.feed_forward(self.feed_forward_norm(x)))


class _DecoderLayer(nn.Module):
    def __init__(self, dim: int, heads: int, head_dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.self_norm, self.self_attention = nn.LayerNorm(dim), _Attention(dim, heads, head_dim, dropout)
        self.cross_norm, self.cross_attention = nn.LayerNorm(dim), _Attention(dim, heads, head_dim, dropout)
        self.feed_forward_norm, self.feed_forward = nn.LayerNorm(dim), _FeedForward(dim, hidden, dropout)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, memory: _KeyValue, mask: torch.Tensor, groups: int,
                past: _KeyValue | None = None) -> tuple[torch.Tensor, _KeyValue]:
        """Run the tokens ``x`` after the ``past`` ones (their self-attention keys and values); return both."""
        h = self.self_norm(x)
        key, value = self.self_attention.keys_values(h)
        if past is not None:
            key, value = torch.cat([past[0], key], dim=2), torch.cat([past[1], value], dim=2)
        # without a past, tokens attend causally; one new token after a past attends to all of it
        x = x + self.dropout(self.self_attention(h, (key, value), causal=past is None))
        x = x + self.dropout(self.cross_attention(self.cross_norm(x), memory, mask, groups=groups))
        return x + self.dropout(self.feed_forward(self.feed_forward_norm(x))), (key, value)


class Tiger(nn.Module):
    """TIGER: generative retrieval of the next item's semantic ID (module docs).

    Args:
        vocab_size: Tokens (:class:`~rec_genrec.data.sequences.SemanticIdVocabulary`); at least
            ``2 + num_levels * codebook_size``, the rest are user tokens.
        embedding_dim: Model width.
        num_heads: Attention heads (each ``head_dim`` wide).
        num_layers: Encoder layers, and decoder layers unless ``num_decoder_layers`` is set.
        attn_dim: Feed-forward width (the genrec name).
        dropout: Dropout of embeddings, attention and feed-forward.
        max_seq_length: Most history items an input holds (inputs are ``1 + max_seq_length * num_levels`` tokens).
        learning_rate: Kept as ``self.learning_rate`` for genrec's scripts; the trainer's
            optimizer follows its config.
        num_levels: Codes per semantic ID (``L``).
        codebook_size: Codes per level.
        head_dim: Width of each attention head.
        num_decoder_layers: Decoder layers (default ``num_layers``).

    Raises:
        ConfigError: A size is not positive, or ``vocab_size`` cannot hold the codes.
    """

    def __init__(
        self,
        vocab_size: int = 3026,
        embedding_dim: int = 128,
        num_heads: int = 6,
        num_layers: int = 4,
        attn_dim: int = 1024,
        dropout: float = 0.1,
        max_seq_length: int = 20,
        learning_rate: float | None = None,
        *,
        num_levels: int = 4,
        codebook_size: int = 256,
        head_dim: int = 64,
        num_decoder_layers: int | None = None,
    ) -> None:
        super().__init__()
        decoder_layers = num_layers if num_decoder_layers is None else num_decoder_layers
        sizes = {"embedding_dim": embedding_dim, "num_heads": num_heads, "num_layers": num_layers,
                 "attn_dim": attn_dim, "max_seq_length": max_seq_length, "num_levels": num_levels,
                 "codebook_size": codebook_size, "head_dim": head_dim, "num_decoder_layers": decoder_layers}
        for name, value in sizes.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"Tiger {name} must be a positive integer, got {value!r}")
        if not 0 <= dropout < 1:
            raise ConfigError(f"Tiger dropout must lie in [0, 1), got {dropout!r}")
        least = 2 + num_levels * codebook_size
        if vocab_size < least:
            raise ConfigError(f"Tiger vocab_size {vocab_size} cannot hold {num_levels} levels x {codebook_size} codes "
                              f"and 2 special tokens; it must be at least {least}")
        self.vocab_size, self.embedding_dim, self.num_heads, self.num_layers = vocab_size, embedding_dim, \
            num_heads, num_layers
        self.attn_dim, self.dropout_rate, self.max_seq_length = attn_dim, dropout, max_seq_length
        self.learning_rate = learning_rate
        self.num_levels, self.codebook_size = num_levels, codebook_size
        self.vocabulary = SemanticIdVocabulary(num_levels, codebook_size, vocab_size - least)
        self.max_positions = 1 + max_seq_length * num_levels
        self.trie: SemanticIdTrie | None = None

        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD_TOKEN)
        self.encoder_positions = nn.Embedding(self.max_positions, embedding_dim)
        self.decoder_positions = nn.Embedding(num_levels, embedding_dim)
        self.embedding_dropout = nn.Dropout(dropout)
        layer = (embedding_dim, num_heads, head_dim, attn_dim, dropout)
        self.encoder_layers = nn.ModuleList(_EncoderLayer(*layer) for _ in range(num_layers))
        self.decoder_layers = nn.ModuleList(_DecoderLayer(*layer) for _ in range(decoder_layers))
        self.encoder_norm, self.decoder_norm = nn.LayerNorm(embedding_dim), nn.LayerNorm(embedding_dim)
        self.code_weight = nn.Parameter(torch.empty(num_levels, codebook_size, embedding_dim))
        self.code_bias = nn.Parameter(torch.zeros(num_levels, codebook_size))
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        std = self.embedding_dim**-0.5
        for table in (self.embedding, self.encoder_positions, self.decoder_positions):
            nn.init.normal_(table.weight, std=std)
        with torch.no_grad():
            self.embedding.weight[PAD_TOKEN].zero_()
        nn.init.normal_(self.code_weight, std=std)

    # -- the catalogue ----------------------------------------------------------------------------
    def set_catalogue(self, semantic_ids: Any) -> SemanticIdTrie:
        """Build the trie of the items ``generate`` may return from a semantic-ID table ``(n_items + 1, L)``.

        Raises:
            DataError: The table's levels differ from the model's, a code is out of range, or
                two items share an ID.
        """
        table = torch.as_tensor(semantic_ids)
        if table.ndim == 2 and table.shape[1] != self.num_levels:
            raise DataError(f"the semantic IDs have {table.shape[1]} levels but this Tiger has num_levels="
                            f"{self.num_levels}")
        self.trie = SemanticIdTrie(table, self.codebook_size).to(self.code_weight.device)
        return self.trie

    # -- encoder and decoder ----------------------------------------------------------------------
    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> tuple[torch.Tensor,
                                                                                                      torch.Tensor]:
        """Return the encoder states ``(B, S, dim)`` and the bool key mask ``(B, 1, 1, S)`` (True = attend).

        Raises:
            DataError: The input is longer than ``1 + max_seq_length * num_levels`` tokens.
        """
        if input_ids.ndim != 2:
            raise DataError(f"input_ids must be (batch, tokens), got shape {tuple(input_ids.shape)}")
        if input_ids.shape[1] > self.max_positions:
            raise DataError(f"input of {input_ids.shape[1]} tokens is longer than this Tiger reads: "
                            f"1 + max_seq_length {self.max_seq_length} x {self.num_levels} levels = "
                            f"{self.max_positions}")
        valid = input_ids != PAD_TOKEN if attention_mask is None else attention_mask.bool()
        from_end = valid.flip(1).cumsum(1).flip(1)  # valid tokens from here to the end
        positions = torch.where(from_end == valid.sum(1, keepdim=True), 0, from_end) * valid
        x = self.embedding_dropout(self.embedding(input_ids) + self.encoder_positions(positions))
        valid = valid.clone()
        valid[:, 0] = True  # a row of padding only must not turn attention into NaN
        mask = valid[:, None, None, :]
        for layer in self.encoder_layers:
            x = layer(x, mask)
        return self.encoder_norm(x), mask

    def memory_cache(self, memory: torch.Tensor) -> list[_KeyValue]:
        """Return each decoder layer's cross-attention keys and values of ``memory`` (computed once per input)."""
        return [layer.cross_attention.keys_values(memory) for layer in self.decoder_layers]

    def _decode(self, codes: torch.Tensor, cache: list[_KeyValue], mask: torch.Tensor) -> torch.Tensor:
        """Return the decoder states ``(B, n, t + 1, dim)`` after the start token and codes ``(B, n, t)``."""
        batch, beams, steps = codes.shape
        start = torch.full((batch, beams, 1), BOS_TOKEN, dtype=torch.long, device=codes.device)
        offsets = self.vocabulary.level_offsets(codes.device)[:steps]
        tokens = torch.cat([start, torch.where(codes >= 0, codes + offsets, PAD_TOKEN)], dim=2)
        positions = torch.arange(steps + 1, device=codes.device)
        x = self.embedding_dropout(self.embedding(tokens) + self.decoder_positions(positions))
        x = x.reshape(batch * beams, steps + 1, -1)
        for layer, memory in zip(self.decoder_layers, cache, strict=True):
            x, _ = layer(x, memory, mask, groups=beams)
        return self.decoder_norm(x).reshape(batch, beams, steps + 1, -1)

    def _step_scorer(self, memory: torch.Tensor, mask: torch.Tensor) -> Callable[..., torch.Tensor]:
        """Return ``score_next(codes, parents)`` for the decoding loops, decoding one token per call.

        Each call feeds only the newest code: every decoder layer keeps the self-attention
        keys and values of the tokens before it, reordered by ``parents`` (which earlier
        beam each beam extends), and the cross-attention keys and values of ``memory``.
        """
        cross = self.memory_cache(memory)
        past: list[_KeyValue] | None = None

        def score_next(codes: torch.Tensor, parents: torch.Tensor | None) -> torch.Tensor:
            nonlocal past
            batch, beams, steps = codes.shape
            if steps == 0:
                tokens = torch.full((batch * beams, 1), BOS_TOKEN, dtype=torch.long, device=codes.device)
            else:
                tokens = codes[:, :, -1].reshape(-1, 1) + int(self.vocabulary.level_offsets()[steps - 1])
            if past is not None and parents is not None:
                earlier = past[0][0].shape[0] // batch
                rows = (torch.arange(batch, device=codes.device)[:, None] * earlier + parents).reshape(-1)
                past = [(key[rows], value[rows]) for key, value in past]
            position = self.decoder_positions.weight[steps]
            x = self.embedding_dropout(self.embedding(tokens) + position)
            layers = []
            for index, (layer, memory_kv) in enumerate(zip(self.decoder_layers, cross, strict=True)):
                x, kv = layer(x, memory_kv, mask, groups=beams, past=None if past is None else past[index])
                layers.append(kv)
            past = layers
            state = self.decoder_norm(x).reshape(batch, beams, -1)
            return torch.log_softmax(self.code_logits(state, steps).float(), dim=-1)

        return score_next

    def code_logits(self, states: torch.Tensor, level: int | None = None) -> torch.Tensor:
        """Return code scores of decoder states, every level or one.

        ``(..., L, dim) -> (..., L, codebook_size)``; with ``level``, ``(..., dim) -> (..., codebook_size)``.
        """
        if level is None:
            return torch.einsum("...ld,lkd->...lk", states, self.code_weight) + self.code_bias
        return states @ self.code_weight[level].T + self.code_bias[level]

    # -- training ---------------------------------------------------------------------------------
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None) -> TigerOutput:
        """Score the label codes under teacher forcing; return the loss (with ``labels``) and the logits.

        Args:
            input_ids: ``(B, S)`` tokens, 0 = padding.
            attention_mask: ``(B, S)``, non-zero where ``input_ids`` are real tokens (default: ``!= 0``).
            labels: ``(B, L)`` tokens of the target items' codes; ``-100`` is ignored.

        Raises:
            DataError: ``labels`` do not hold ``L`` tokens per row.
        """
        if labels is None:
            raise DataError("Tiger.forward needs labels (the target codes) to teacher-force the decoder; "
                            "use generate() to predict")
        if labels.ndim != 2 or labels.shape[1] != self.num_levels:
            raise DataError(f"labels must be (batch, {self.num_levels}) code tokens, got shape {tuple(labels.shape)}")
        ignored = labels == IGNORE_INDEX
        codes = self.vocabulary.token_codes(labels.masked_fill(ignored, PAD_TOKEN)).masked_fill(ignored, -1)
        memory, mask = self.encode(input_ids, attention_mask)
        states = self._decode(codes[:, None, :-1], self.memory_cache(memory), mask)[:, 0]
        logits = self.code_logits(states)
        targets = codes.masked_fill(codes < 0, IGNORE_INDEX)
        loss = F.cross_entropy(logits.reshape(-1, self.codebook_size).float(), targets.reshape(-1),
                               ignore_index=IGNORE_INDEX)
        return TigerOutput(loss, logits)

    # -- generation ---------------------------------------------------------------------------------
    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        *,
        num_return_sequences: int = 10,
        num_beams: int | None = None,
        do_sample: bool = False,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        max_length: int | None = None,
        trie: SemanticIdTrie | None = None,
        generator: torch.Generator | None = None,
    ) -> Generation:
        """Return catalogue items for each input, best first, by constrained beam search or sampling.

        Runs in eval mode (restored after). The encoder runs once; each decoding step reuses
        its output (the cross-attention keys and values).

        Args:
            input_ids: ``(B, S)`` tokens, 0 = padding.
            attention_mask: As for :meth:`forward`.
            num_return_sequences: Items per row (``k``).
            num_beams: Beam width (default ``k``; at least ``k``).
            do_sample: Sample (temperature, ``top_k``, ``top_p``) instead of beam search.
            temperature, top_k, top_p: Sampling settings (:func:`~rec_genrec.models.trie.filter_logits`);
                beam search ignores them.
            max_length: genrec's generation length in tokens: at least ``num_levels`` (IDs
                have a fixed length, so generation stops there).
            trie: The catalogue (default: the one :meth:`set_catalogue` built).
            generator: Random generator of the sampling.

        Returns:
            A :class:`~rec_genrec.models.trie.Generation`: items ``(B, k)``, their codes
            ``(B, k, L)`` and log-probabilities ``(B, k)``. Beam search returns distinct items.

        Raises:
            ConfigError: No catalogue, a catalogue of another shape, ``max_length`` below
                ``num_levels``, or bad beam or sampling settings.
        """
        trie = trie if trie is not None else self.trie
        if trie is None:
            raise ConfigError("Tiger.generate needs the catalogue: call set_catalogue(semantic_ids) or pass trie=")
        if (trie.num_levels, trie.codebook_size) != (self.num_levels, self.codebook_size):
            raise ConfigError(f"the trie holds {trie.num_levels} levels x {trie.codebook_size} codes but this Tiger "
                              f"generates {self.num_levels} x {self.codebook_size}")
        if max_length is not None and max_length < self.num_levels:
            raise ConfigError(f"max_length {max_length} cannot hold a semantic ID of {self.num_levels} codes")
        if trie.device != input_ids.device:
            trie.to(input_ids.device)
        was_training = self.training
        self.eval()
        try:
            score_next = self._step_scorer(*self.encode(input_ids, attention_mask))
            k, rows = num_return_sequences, input_ids.shape[0]
            if do_sample:
                return sample(score_next, trie, rows, k, temperature=temperature, top_k=top_k, top_p=top_p,
                              generator=generator)
            return beam_search(score_next, trie, rows, k if num_beams is None else num_beams, k)
        finally:
            self.train(was_training)
