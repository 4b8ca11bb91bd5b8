"""The two-tower retrieval models: the ``mode`` protocol, towers, masking, learning, torch-rechub parity."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rec_core import features as rec_features
from rec_core.errors import ConfigError
from rec_core.features import SequenceFeature, SparseFeature
from rec_trainers.models.matching import DSSM, MIND, ComirecDR, ComirecSA, MatchModel, YoutubeDNN

D = 8
N_ITEMS = 25  # ids 1..24; 0 is padding
L = 5
N_NEG = 3
B = 6

MODELS = {
    "dssm": (DSSM, {}),
    "youtubednn": (YoutubeDNN, {}),
    "mind": (MIND, {"max_length": L + 3}),
    "comirec-sa": (ComirecSA, {}),
    "comirec-dr": (ComirecDR, {"max_length": L + 3}),
}
MULTI_INTEREST = ["mind", "comirec-sa", "comirec-dr"]


def features(dim: int = D) -> list:
    return [
        SparseFeature("user_id", 50, dim),
        SparseFeature("gender", 3, dim),
        SequenceFeature("hist_item_id", N_ITEMS, dim, pooling="concat", shared_with="item_id"),
        SparseFeature("item_id", N_ITEMS, dim),
        SequenceFeature("neg_items", N_ITEMS, dim, pooling="concat", shared_with="item_id"),
    ]


def build(name: str, **params) -> MatchModel:
    cls, extra = MODELS[name]
    torch.manual_seed(0)
    return cls.from_features(features(), **{**extra, **params})


def random_batch(seed: int = 0, batch: int = B, length: int = L) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    hist = torch.randint(1, N_ITEMS, (batch, length), generator=g)
    lengths = torch.randint(1, length + 1, (batch,), generator=g)
    return {
        "user_id": torch.randint(0, 50, (batch,), generator=g),
        "gender": torch.randint(0, 3, (batch,), generator=g),
        "hist_item_id": hist.masked_fill(torch.arange(length) >= lengths.unsqueeze(1), 0),
        "item_id": torch.randint(1, N_ITEMS, (batch,), generator=g),
        "neg_items": torch.randint(1, N_ITEMS, (batch, N_NEG), generator=g),
    }


def run(model: MatchModel, x: dict[str, torch.Tensor], mode: str | None) -> torch.Tensor:
    model.mode = mode
    try:
        return model(x)
    finally:
        model.mode = None


@pytest.mark.parametrize("name", sorted(MODELS))
def test_outputs_have_torch_rechubs_shapes_in_each_mode(name):
    model = build(name).eval()
    x = random_batch()
    d = model.output_dim
    user_shape = (B, 4, d) if name in MULTI_INTEREST else (B, d)
    assert run(model, x, "user").shape == user_shape
    assert run(model, x, "item").shape == (B, d)
    assert run(model, x, None).shape == ((B, 1 + N_NEG) if model.listwise else (B,))
    assert model.multi_interest == (name in MULTI_INTEREST)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_towers_equal_the_mode_outputs_and_need_only_their_side(name):
    model = build(name).eval()
    x = random_batch()
    user_side = {k: v for k, v in x.items() if k in ("user_id", "gender", "hist_item_id")}
    item_side = {"item_id": x["item_id"]}
    torch.testing.assert_close(model.user_tower(x), run(model, user_side, "user"), rtol=0, atol=0)
    torch.testing.assert_close(model.item_tower(x), run(model, item_side, "item"), rtol=0, atol=0)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_embeddings_are_l2_normalised(name):
    model = build(name).eval()
    x = random_batch()
    ones = torch.ones(B)
    torch.testing.assert_close(model.item_tower(x).norm(dim=-1), ones)
    user = model.user_tower(x)
    torch.testing.assert_close(user.norm(dim=-1), torch.ones(user.shape[:-1]))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_training_logits_score_the_chosen_user_vector_against_positive_and_negatives(name):
    model = build(name, temperature=0.5).eval()
    x = random_batch()
    logits = run(model, x, None)
    user = model.user_tower(x)
    if not model.listwise:
        torch.testing.assert_close(logits, (user * model.item_tower(x)).sum(-1) / 0.5)
        return
    candidates = [model.item_tower({"item_id": x["item_id"]})]
    candidates += [model.item_tower({"item_id": x["neg_items"][:, j]}) for j in range(N_NEG)]
    cand = torch.stack(candidates, dim=1)
    if user.dim() == 2:
        torch.testing.assert_close(logits, torch.einsum("bd,bnd->bn", user, cand) / 0.5)
    else:  # label-aware attention: the interest closest to the positive item
        best = torch.einsum("bkd,bd->bk", user, cand[:, 0]).argmax(1)
        torch.testing.assert_close(logits, torch.einsum("bd,bnd->bn", user[torch.arange(B), best], cand) / 0.5)


@pytest.mark.parametrize("name", MULTI_INTEREST)
def test_history_padding_does_not_change_the_user_embedding(name):
    model = build(name).eval()
    x = random_batch()
    before = model.user_tower(x)
    longer = dict(x, hist_item_id=F.pad(x["hist_item_id"], (0, 3)))  # more padding on the right
    torch.testing.assert_close(model.user_tower(longer), before)
    with torch.no_grad():  # the padding id's row is never read
        model.embedding.table(model.item_feature).weight[0].normal_(0.0, 10.0)
    torch.testing.assert_close(model.user_tower(x), before)


def test_mind_dynamic_interest_zeroes_inactive_interests_and_retrieval_skips_them():
    model = build("mind", dynamic_interest=True).eval()
    x = random_batch(length=8)
    x["hist_item_id"][0] = torch.tensor([3, 0, 0, 0, 0, 0, 0, 0])  # one item: 1 interest
    x["hist_item_id"][1] = torch.arange(1, 9)  # eight items: log2(8) = 3 interests
    user = model.user_tower(x)
    assert user[0].norm(dim=-1).tolist() == pytest.approx([1, 0, 0, 0], abs=1e-6)
    assert user[1].norm(dim=-1).tolist() == pytest.approx([1, 1, 1, 0], abs=1e-6)
    items = torch.cat([model.item_tower({"item_id": torch.arange(1, N_ITEMS)}), -user[0, :1]])
    scores = model.score_items(user, items)
    assert scores.shape == (B, N_ITEMS)
    assert scores[0, -1].item() == pytest.approx(-1.0)  # not 0 from an inactive (zero) interest
    expected = torch.stack([(user[b, :k] @ items.T).amax(0) for b, k in ((0, 1), (1, 3))])
    torch.testing.assert_close(scores[:2], expected)


def test_score_items_takes_the_best_interest():
    user = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    items = torch.tensor([[0.6, 0.8], [-1.0, 0.0]])
    torch.testing.assert_close(MatchModel.score_items(user, items), torch.tensor([[0.8, 0.0]]))
    torch.testing.assert_close(MatchModel.score_items(user[:, 0], items), torch.tensor([[0.6, -1.0]]))


# Toy next-item task: a history holds 1-5 items of one of 6 clusters (ids 4c+1 .. 4c+4);
# the next item is a fixed function of the cluster. user_id and gender are noise; the 5
# sampled negatives never hit the positive.
def toy_batch(g: torch.Generator, batch: int) -> dict[str, torch.Tensor]:
    cluster = torch.randint(0, 6, (batch,), generator=g)
    hist = 4 * cluster.unsqueeze(1) + 1 + torch.randint(0, 4, (batch, L), generator=g)
    lengths = torch.randint(1, L + 1, (batch,), generator=g)
    target = 4 * ((cluster + 2) % 6) + 1 + cluster % 4
    offsets = torch.randint(1, N_ITEMS - 1, (batch, 5), generator=g)
    return {
        "user_id": torch.randint(0, 50, (batch,), generator=g),
        "gender": torch.randint(0, 3, (batch,), generator=g),
        "hist_item_id": hist.masked_fill(torch.arange(L) >= lengths.unsqueeze(1), 0),
        "item_id": target,
        "neg_items": (target.unsqueeze(1) - 1 + offsets) % (N_ITEMS - 1) + 1,
    }


def top1(model: MatchModel, x: dict[str, torch.Tensor]) -> float:
    with torch.no_grad():
        scores = model.score_items(model.user_tower(x), model.item_tower({"item_id": torch.arange(1, N_ITEMS)}))
    return (scores.argmax(1) + 1 == x["item_id"]).float().mean().item()


@pytest.fixture
def one_thread():
    """Run tiny training loops on one thread: faster than two, and kind to a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("name", sorted(MODELS))
def test_learns_the_next_item_from_the_history(name):
    cls, extra = MODELS[name]
    # Each toy user has a single interest; label-aware training only shapes the interest it
    # picks, and with K=4 the never-picked ones (random directions) win the retrieval
    # maximum for a wrong item on 10-30% of users, so the toy uses K=2 (and d=16).
    if cls.multi_interest:
        extra = {**extra, "interest_num": 2}
    torch.manual_seed(0)
    model = cls.from_features(features(16), temperature=0.1, **extra)
    everything = {"item_id": torch.arange(1, N_ITEMS)}
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    for _ in range(250):
        x = toy_batch(g, 64)
        if model.listwise:  # softmax over [positive, 5 sampled negatives]
            loss = F.cross_entropy(model(x), torch.zeros(64, dtype=torch.long))
        else:  # softmax over the whole catalogue, built from the towers
            logits = model.score_items(model.user_tower(x), model.item_tower(everything)) / model.temperature
            loss = F.cross_entropy(logits, x["item_id"] - 1)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    test = toy_batch(torch.Generator().manual_seed(1), 512)
    assert top1(model, test) > 0.9
    # With each user's history swapped for another's, the target is unpredictable (~1/6):
    # a user tower that ignored its history could not pass the bound above.
    shuffled = dict(test, hist_item_id=test["hist_item_id"][torch.randperm(512, generator=g)])
    assert top1(model, shuffled) < 0.4


def rechub_pair(name: str):
    """Build torch-rechub's model and ours from the same feature specification."""
    rf = pytest.importorskip("torch_rechub.basic.features", reason="torch-rechub is not installed")
    rm = pytest.importorskip("torch_rechub.models.matching", reason="torch-rechub is not installed")

    def spec(mod):
        user = [mod.SparseFeature("user_id", 50, embed_dim=D), mod.SparseFeature("gender", 3, embed_dim=D)]
        pooled = mod.SequenceFeature("hist_item_id", N_ITEMS, embed_dim=D, pooling="mean", shared_with="item_id")
        hist = mod.SequenceFeature("hist_item_id", N_ITEMS, embed_dim=D, pooling="concat", shared_with="item_id")
        item = [mod.SparseFeature("item_id", N_ITEMS, embed_dim=D)]
        neg = [mod.SequenceFeature("neg_items", N_ITEMS, embed_dim=D, pooling="concat", shared_with="item_id")]
        tower = {"dims": [16, D], "activation": "prelu"}
        args = {
            "DSSM": ([*user, pooled], item, tower, tower),
            "YoutubeDNN": ([*user, pooled], item, neg, tower),
            "MIND": (user, [hist], item, neg, L),
            "ComirecSA": (user, [hist], item, neg),
            "ComirecDR": (user, [hist], item, neg, L),
        }
        return args[name]

    ours_cls = {"DSSM": DSSM, "YoutubeDNN": YoutubeDNN, "MIND": MIND, "ComirecSA": ComirecSA, "ComirecDR": ComirecDR}
    return getattr(rm, name)(*spec(rf)), ours_cls[name](*spec(rec_features))


@pytest.mark.parametrize("name", ["DSSM", "YoutubeDNN", "MIND", "ComirecSA", "ComirecDR"])
def test_accepts_torch_rechubs_inputs_and_returns_its_shapes(name):
    torch.manual_seed(0)
    theirs, ours = rechub_pair(name)
    x = random_batch(length=L)
    for mode in ("user", "item", None):
        theirs.mode = ours.mode = mode
        assert ours(x).shape == theirs(x).shape, mode


def test_from_features_splits_by_name():
    dssm = DSSM.from_features([*features(), SparseFeature("item_cate", 5, D)])
    assert [f.name for f in dssm.user_features] == ["user_id", "gender", "hist_item_id"]
    assert dssm.user_features[-1].pooling == "mean"  # a concat history is pooled for the MLP tower
    assert [f.name for f in dssm.item_features] == ["item_id", "item_cate"]
    mind = MIND.from_features(features(), max_length=L)
    assert [f.name for f in mind.user_features] == ["user_id", "gender"]
    assert [f.name for f in mind.history_features] == ["hist_item_id"]
    assert [f.name for f in mind.neg_item_feature] == ["neg_items"]
    renamed = [
        SparseFeature("user_id", 50, D),
        SequenceFeature("hist_movie", N_ITEMS, D, pooling="mean", shared_with="movie"),
        SparseFeature("movie", N_ITEMS, D),
    ]
    youtube = YoutubeDNN.from_features(renamed, item_feature="movie")
    assert youtube.item_feature.name == "movie" and youtube.neg_item_feature == []


@pytest.mark.parametrize(
    ("build_it", "message"),
    [
        (lambda: YoutubeDNN.from_features(features(), item_feature="movie"), "YoutubeDNN: no item_feature 'movie'"),
        (lambda: MIND.from_features(features()), "MIND.from_features needs the option 'max_length'"),
        (lambda: ComirecSA.from_features(features(), dims=[3]), "unknown parameter 'dims' for ComirecSA"),
        (lambda: ComirecSA.from_features(features()[3:]), "ComirecSA needs exactly one 'hist_*' SequenceFeature"),
        (lambda: DSSM.from_features(features(), user_params={"dims": [32]}), "DSSM: the user tower outputs 32"),
        (lambda: DSSM.from_features(features(), item_params={"dimz": [8]}), "DSSM: unknown item_params key 'dimz'"),
        (lambda: YoutubeDNN.from_features(features(), user_params={"dims": [16]}), "user_params['dims'][-1]"),
        (lambda: MIND.from_features(features(), max_length=L, interest_num=0), "MIND: interest_num must be"),
        (lambda: ComirecDR.from_features(features(), max_length=L, temperature=0), "ComirecDR: temperature"),
        (
            lambda: YoutubeDNN(features()[:2], features()[3:4], [SequenceFeature("neg_items", N_ITEMS, D)], {}),
            "must share the table of 'item_id'",
        ),
    ],
)
def test_bad_configurations_raise_one_line_config_errors(build_it, message):
    with pytest.raises(ConfigError) as info:
        build_it()
    assert message in str(info.value) and "\n" not in str(info.value)


def test_unknown_mode_and_missing_negatives_raise_config_errors():
    model = build("youtubednn")
    model.mode = "users"
    with pytest.raises(ConfigError, match="YoutubeDNN: mode must be 'user', 'item' or None"):
        model(random_batch())
    no_negatives = YoutubeDNN.from_features(features()[:4])
    with pytest.raises(ConfigError, match="needs neg_item_feature"):
        no_negatives(random_batch())
