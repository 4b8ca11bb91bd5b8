"""How ``rec train rqvae`` and ``rec train tiger`` turn a request into a run (rec-core's pipeline steps).

Both read a registered interaction data set with item text (``amazon-beauty`` by default;
any data set of task ``seq`` whose catalogue has text), so they declare ``data_tasks``:

* rqvae: the catalogue's text is encoded (``--text-encoder``, cached) and the RQ-VAE is
  built for that embedding size; loaders are :meth:`RQVAETrainer.create_dataloaders`.
* tiger: the items' semantic IDs come from ``--semantic-ids FILE`` (``rec genrec
  semantic-ids``) or ``--rqvae RUN|rqvae.ckpt``; the vocabulary size follows from them;
  loaders are the leave-one-out :class:`~rec_genrec.data.sequences.SequenceDataset` splits.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar

from rec_core.errors import ConfigError

if TYPE_CHECKING:
    from rec_core.config import TrainingConfig
    from rec_core.datasets import TaskData
    from rec_core.registry import Registration
    from rec_core.run import TrainRequest

__all__ = ["ItemTextSteps", "SemanticIdSteps"]

SEMANTIC_ID = "semantic_id"
"""The item attribute (``TaskData.items.attributes``) holding each item's semantic ID (row 0: padding)."""


def _split_options(request: TrainRequest, keys: tuple[str, ...]) -> tuple[TrainRequest, dict[str, Any]]:
    """Return the request without the ``data.*`` options this package reads, and those options."""
    ours = {k: v for k, v in request.data_params.items() if k in keys}
    rest = {k: v for k, v in request.data_params.items() if k not in keys}
    return dataclasses.replace(request, data_params=rest), ours


def _config_model_options(config: TrainingConfig, names: tuple[str, ...]) -> dict[str, Any]:
    """Return the model options the genrec configs carry as fields (the seed builds models from them)."""
    return {name: getattr(config, name) for name in names if hasattr(config, name)}


class ItemTextSteps:
    """``rec train rqvae``: item text -> embeddings -> an RQ-VAE of that input size."""

    default_model: ClassVar[str | None] = "rqvae"
    default_data: ClassVar[str | None] = "amazon-beauty"
    data_tasks: ClassVar[tuple[str, ...]] = ("seq",)
    data_keys: ClassVar[tuple[str, ...]] = ("text_encoder",)
    model_fields: ClassVar[tuple[str, ...]] = (
        "hidden_dim", "latent_dim", "num_embeddings", "num_levels", "commitment_cost",
    )  # fmt: skip

    @classmethod
    def load_data(cls, request: TrainRequest, config: TrainingConfig) -> TaskData:
        """Load the data set, then attach each item's text embedding (``data.text_encoder``, default minilm)."""
        from rec_genrec.data.items import attach_text_embeddings

        rest, ours = _split_options(request, cls.data_keys)
        data = super().load_data(rest, config)  # type: ignore[misc]
        return attach_text_embeddings(data, ours.get("text_encoder"), pm=request.plugin_manager)

    @classmethod
    def model_params(cls, request: TrainRequest, config: TrainingConfig, data: TaskData) -> dict[str, Any]:
        """Return ``input_dim`` (the embeddings' size), the config's model fields, then ``model.*``."""
        from rec_genrec.data.items import TEXT_EMBEDDING

        dim = int(data.items.attributes[TEXT_EMBEDDING].shape[1])  # type: ignore[union-attr]
        given = request.model_params.get("input_dim", dim)
        if given != dim:
            raise ConfigError(f"model.input_dim={given} but the item text embeddings have {dim} dims "
                              "(leave input_dim out: it follows the text encoder)")
        return {**_config_model_options(config, cls.model_fields), **request.model_params, "input_dim": dim}

    def make_loaders(self, data: TaskData) -> dict[str, Any]:
        """Return the seeded 80/10/10 item loaders of :meth:`create_dataloaders`."""
        from rec_genrec.data.items import ItemDataset

        self.dataset = ItemDataset.from_task_data(data)
        train, val, test = self.create_dataloaders()  # type: ignore[attr-defined]
        return {"train": train, "val": val, "test": test}

    @classmethod
    def describe(cls, entry: Registration, params: dict[str, Any], data: TaskData) -> dict[str, Any]:
        """Record the model and how the items were encoded (``rec genrec semantic-ids`` reads it)."""
        description = super().describe(entry, params, data)  # type: ignore[misc]
        description["features"] = []
        description["text_encoder"] = data.info.get("text_encoder")
        return description


class SemanticIdSteps:
    """``rec train tiger``: interaction data + the items' semantic IDs -> TIGER's token sequences."""

    default_model: ClassVar[str | None] = "tiger"
    default_data: ClassVar[str | None] = "amazon-beauty"
    data_tasks: ClassVar[tuple[str, ...]] = ("seq",)
    data_keys: ClassVar[tuple[str, ...]] = ("semantic_ids", "rqvae", "text_encoder")
    model_fields: ClassVar[tuple[str, ...]] = (
        "embedding_dim", "num_heads", "num_layers", "attn_dim", "dropout", "max_seq_length",
    )  # fmt: skip

    @classmethod
    def load_data(cls, request: TrainRequest, config: TrainingConfig) -> TaskData:
        """Load the data set and attach the items' semantic IDs (``--semantic-ids`` or ``--rqvae``).

        Raises:
            ConfigError: Neither or both of ``--semantic-ids`` and ``--rqvae``.
        """
        rest, ours = _split_options(request, cls.data_keys)
        if ("semantic_ids" in ours) == ("rqvae" in ours):
            raise ConfigError("rec train tiger needs the items' semantic IDs: --semantic-ids FILE "
                              "(from `rec genrec semantic-ids`) or --rqvae RUN_FOLDER|rqvae.ckpt")
        return cls.attach_semantic_ids(super().load_data(rest, config), ours)  # type: ignore[misc]

    @classmethod
    def attach_semantic_ids(cls, data: TaskData, source: dict[str, Any]) -> TaskData:
        """Return ``data`` with each item's semantic ID.

        Args:
            data: The loaded data set.
            source: ``{"semantic_ids": FILE}`` or ``{"rqvae": RUN|CKPT}`` (with an optional ``text_encoder``).
        """
        from rec_genrec.data.dataset_factory import read_semantic_ids
        from rec_genrec.runs import load_rqvae, semantic_ids_of

        n_items = data.items.n_items if data.items is not None else 0
        if "semantic_ids" in source:
            table = read_semantic_ids(str(source["semantic_ids"]), n_items=n_items)
        else:
            table = semantic_ids_of(load_rqvae(str(source["rqvae"])), data, encoder=source.get("text_encoder"))
        items = dataclasses.replace(data.items, attributes={**data.items.attributes, SEMANTIC_ID: table.numpy()})
        origin = {"semantic_ids": str(source.get("semantic_ids") or source.get("rqvae"))}
        return dataclasses.replace(data, items=items, info={**data.info, **origin})

    @classmethod
    def model_params(cls, request: TrainRequest, config: TrainingConfig, data: TaskData) -> dict[str, Any]:
        """Return the sizes the semantic IDs fix (levels, codebook, vocabulary), the config's model fields, model.*."""
        vocabulary = cls.vocabulary_of(data, config)
        params = {
            "vocab_size": vocabulary.vocab_size, "num_levels": vocabulary.num_levels,
            "codebook_size": vocabulary.codebook_size, **_config_model_options(config, cls.model_fields),
            **request.model_params,
        }  # fmt: skip
        vocabulary.check_vocab_size(int(params["vocab_size"]), what="model.vocab_size")
        return params

    @classmethod
    def vocabulary_of(cls, data: TaskData, config: TrainingConfig) -> Any:
        """Return the token layout of the data's semantic IDs: the config's codebook, grown if a code needs it."""
        from rec_genrec.data.sequences import SemanticIdVocabulary

        table = data.items.attributes[SEMANTIC_ID]  # type: ignore[union-attr]
        codebook = max(int(table.max()) + 1, int(config.codebook_size))  # type: ignore[attr-defined]
        buckets = int(config.num_user_buckets)  # type: ignore[attr-defined]
        return SemanticIdVocabulary(int(table.shape[1]), codebook, buckets)

    def make_loaders(self, data: TaskData) -> dict[str, Any]:
        """Build the leave-one-out :class:`SequenceDataset`, constrain generation to its items, return its loaders."""
        import torch

        from rec_genrec.data.sequences import SequenceDataset

        config = self.config  # type: ignore[attr-defined]
        vocabulary = self.vocabulary_of(data, config)
        table = torch.as_tensor(data.items.attributes[SEMANTIC_ID])  # type: ignore[union-attr]
        self.dataset = SequenceDataset.from_interactions(
            data, table, "train", max_history=config.max_seq_length,
            codebook_size=vocabulary.codebook_size, num_user_buckets=vocabulary.num_user_buckets,
        )  # fmt: skip
        self.set_catalogue(self.dataset.semantic_ids, self.dataset.vocabulary)  # type: ignore[attr-defined]
        train, val, test = self.create_dataloaders()  # type: ignore[attr-defined]
        return {name: loader for name, loader in (("train", train), ("val", val), ("test", test)) if loader is not None}

    @classmethod
    def describe(cls, entry: Registration, params: dict[str, Any], data: TaskData) -> dict[str, Any]:
        """Record the model and where the semantic IDs came from."""
        description = super().describe(entry, params, data)  # type: ignore[misc]
        description["features"] = []
        description["semantic_ids"] = data.info.get("semantic_ids")
        return description
