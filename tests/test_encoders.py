"""SentenceEncoder on a tiny BERT: encoding, LoRA attachment and its tensors, model resolution."""

import copy

import pytest
import torch

from fewshot_nlp import DEFAULT_ENCODER, LoraSettings, SentenceEncoder
from fewshot_nlp.encoders import embedded_default_path, resolve_encoder

TEXTS = ["my card never arrived", "please cancel my order", "reset my password please"]


def test_encode_is_normalised_and_batched(tiny_encoder):
    whole = tiny_encoder.encode(TEXTS)
    assert whole.shape == (3, 32) and whole.dtype == torch.float32
    assert torch.allclose(whole.norm(dim=1), torch.ones(3), atol=1e-5)
    one_by_one = tiny_encoder.encode(TEXTS, batch_size=1)
    assert torch.allclose(whole, one_by_one, atol=1e-5)
    assert tiny_encoder.encode([]).shape == (0, 32)


def test_forward_matches_encode_and_has_gradients_only_with_lora(tiny_encoder):
    assert torch.allclose(tiny_encoder(TEXTS), tiny_encoder.encode(TEXTS), atol=1e-5)
    assert not tiny_encoder(TEXTS).requires_grad  # frozen base, no adapter: nothing to train
    tiny_encoder.add_lora(LoraSettings(r=4))
    assert tiny_encoder(TEXTS).requires_grad


def test_lora_targets_are_picked_per_architecture(tiny_encoder):
    tiny_encoder.add_lora(True)
    assert tiny_encoder.lora_settings.target_modules == ["query", "value"]  # peft's mapping for BERT
    names = list(tiny_encoder.lora_parameters())
    assert len(names) == 2 * 2 * 2  # 2 layers x (query, value) x (A, B)
    trainable = {n for n, p in tiny_encoder.named_parameters() if p.requires_grad}
    assert trainable == set(names)


def test_lora_starts_as_identity_and_training_it_leaves_the_base_untouched(tiny_encoder):
    before = tiny_encoder.encode(TEXTS)
    base = {n: p.clone() for n, p in tiny_encoder.named_parameters()}
    tiny_encoder.add_lora(LoraSettings(r=4))
    assert torch.allclose(tiny_encoder.encode(TEXTS), before, atol=1e-6)  # lora_B starts at zero
    optimiser = torch.optim.SGD(tiny_encoder.lora_parameters().values(), lr=0.5)
    for _ in range(3):
        loss = -(tiny_encoder(TEXTS[:1]) @ tiny_encoder(TEXTS[1:2]).T).sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert not torch.allclose(tiny_encoder.encode(TEXTS), before, atol=1e-4)
    for name, value in tiny_encoder.named_parameters():
        if "lora_" not in name:
            original = base[name.replace(".base_layer", "")]
            assert torch.equal(value, original), name


def test_lora_state_dict_round_trip_and_refusals(tiny_encoder, _tiny_encoder):
    import copy

    tiny_encoder.add_lora(LoraSettings(r=4))
    with torch.no_grad():
        for p in tiny_encoder.lora_parameters().values():
            p.normal_()
    state = tiny_encoder.lora_state_dict()
    other = copy.deepcopy(_tiny_encoder)
    other.add_lora(LoraSettings(r=4))
    other.load_lora_state_dict(state)
    assert torch.allclose(other.encode(TEXTS), tiny_encoder.encode(TEXTS), atol=1e-6)

    wrong_rank = copy.deepcopy(_tiny_encoder)
    wrong_rank.add_lora(LoraSettings(r=2))
    with pytest.raises((ValueError, RuntimeError)):
        wrong_rank.load_lora_state_dict(state)
    with pytest.raises(ValueError, match="missing"):
        other.load_lora_state_dict(dict(list(state.items())[:-1]))
    with pytest.raises(ValueError, match="no LoRA adapter"):
        copy.deepcopy(_tiny_encoder).lora_state_dict()
    with pytest.raises(ValueError, match="already has a LoRA"):
        other.add_lora(LoraSettings())


def test_a_peft_lora_config_is_accepted(tiny_encoder):
    from peft import LoraConfig

    tiny_encoder.add_lora(LoraConfig(r=2, lora_alpha=4, target_modules=["query"]))
    assert tiny_encoder.lora_settings == LoraSettings(r=2, lora_alpha=4, target_modules=["query"])
    assert len(tiny_encoder.lora_parameters()) == 2 * 2  # 2 layers x query x (A, B)
    with pytest.raises(TypeError, match="peft LoraConfig"):
        type(tiny_encoder)(tiny_encoder.model, lora="yes please")


def test_bad_lora_settings():
    with pytest.raises(ValueError, match="r=0"):
        LoraSettings(r=0)
    with pytest.raises(ValueError, match="lora_dropout"):
        LoraSettings(lora_dropout=1.5)


def test_default_resolves_to_the_embedded_copy():
    path = embedded_default_path()
    assert (path / "modules.json").is_file()
    assert resolve_encoder(None) == str(path)
    assert resolve_encoder(DEFAULT_ENCODER) == str(path)
    assert resolve_encoder("someone/other-model") == "someone/other-model"


def test_unknown_model_offline_is_a_clear_error():
    with pytest.raises(ValueError, match="no-such-org/no-such-model.*HF_HUB_OFFLINE"):
        SentenceEncoder("no-such-org/no-such-model")


def test_bad_batch_size(tiny_model_dir):
    with pytest.raises(ValueError, match="batch_size"):
        SentenceEncoder(str(tiny_model_dir), batch_size=0)


def test_lora_from_difference_is_the_truncated_svd_of_the_weight_change(tiny_encoder, _tiny_encoder):
    from fewshot_nlp.lora import lora_from_difference, merge_lora

    transformer = tiny_encoder.transformer
    torch.manual_seed(0)
    tuned = {k: v + 0.01 * torch.randn_like(v) for k, v in transformer.state_dict().items()}
    name = "encoder.layer.0.attention.self.query"
    base = transformer.get_submodule(name).weight.detach().clone()
    width = base.shape[0]

    # a rank that covers the whole matrix reproduces the fine-tuned weights exactly
    full = copy.deepcopy(_tiny_encoder).transformer
    lora_from_difference(full, tuned, {"r": width, "lora_alpha": width, "target_modules": "all-linear"})
    merge_lora(full)
    assert torch.allclose(full.get_submodule(name).weight, tuned[f"{name}.weight"], atol=1e-5)
    bias = f"{name}.bias"  # only linear weights move: biases stay the base model's
    assert torch.equal(full.state_dict()[bias], transformer.state_dict()[bias])

    # rank 2: the closest rank-2 matrix to the change, whatever alpha scales the adapter by
    lora_from_difference(transformer, tuned, {"r": 2, "lora_alpha": 7, "target_modules": "all-linear"})
    merge_lora(transformer)
    u, s, vh = torch.linalg.svd(tuned[f"{name}.weight"] - base)
    expected = base + u[:, :2] @ torch.diag(s[:2]) @ vh[:2]
    assert torch.allclose(transformer.get_submodule(name).weight, expected, atol=1e-5)

    with pytest.raises(ValueError, match="no encoder.layer.0.attention.self.query.weight"):
        other = copy.deepcopy(_tiny_encoder).transformer
        lora_from_difference(other, {}, {"r": 2, "target_modules": "all-linear"})


def test_lora_from_difference_strength_scales_the_fitted_change(_tiny_encoder):
    from fewshot_nlp.lora import lora_from_difference, merge_lora

    name = "encoder.layer.1.output.dense"
    base = _tiny_encoder.transformer.get_submodule(name).weight.detach().clone()
    torch.manual_seed(1)
    tuned = {k: v + 0.01 * torch.randn_like(v) for k, v in _tiny_encoder.transformer.state_dict().items()}
    full_rank = {"r": min(base.shape), "lora_alpha": 3, "target_modules": "all-linear"}
    for strength in (0.5, 2.0):
        transformer = copy.deepcopy(_tiny_encoder).transformer
        lora_from_difference(transformer, tuned, full_rank, strength=strength)
        merge_lora(transformer)
        expected = base + strength * (tuned[f"{name}.weight"] - base)
        assert torch.allclose(transformer.get_submodule(name).weight, expected, atol=1e-5)
    with pytest.raises(ValueError, match="strength must be a positive number"):
        lora_from_difference(copy.deepcopy(_tiny_encoder).transformer, tuned, full_rank, strength=0)
