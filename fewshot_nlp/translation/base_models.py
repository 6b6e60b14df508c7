"""Seq2seq base models built from what installs offline, for machines with no pretrained translator.

Two candidates (``recipes/translation/build_base.py`` trains and compares them):

- :func:`marian_from_scratch`: a small Marian transformer with a tokenizer trained on the
  corpus itself (:func:`train_tokenizer`, the ``tokenizers`` library), so every script in
  the corpus gets real subwords;
- :func:`minilm_encoder_decoder`: the embedded all-MiniLM-L6-v2 on both sides of an
  ``EncoderDecoderModel`` (new cross-attention), warm-started but bound to MiniLM's English
  uncased WordPiece vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterable

SPECIAL_TOKENS = ["<pad>", "</s>", "<unk>"]


def train_tokenizer(texts: Iterable[str], vocab_size: int = 16000, special_tokens: Iterable[str] = ()):
    """A unigram sentencepiece-style tokenizer (NFKC, whitespace as ``▁``) trained on ``texts``.

    Returns a ``PreTrainedTokenizerFast`` that appends ``</s>`` to every sequence, as Marian
    expects; save it with ``save_pretrained`` beside the model. ``special_tokens`` are kept
    whole (e.g. Marian's ``>>code<<`` target-language tokens).
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size, special_tokens=[*SPECIAL_TOKENS, *special_tokens], unk_token="<unk>", show_progress=False
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    eos = tokenizer.token_to_id("</s>")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A $B </s>", special_tokens=[("</s>", eos)]
    )
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


def marian_from_scratch(
    tokenizer,
    d_model: int = 256,
    layers: int = 3,
    heads: int = 4,
    ffn_dim: int = 1024,
    max_positions: int = 256,
    dropout: float = 0.1,
):
    """A randomly initialised Marian model sized for CPU training, sharing one embedding table."""
    from transformers import MarianConfig, MarianMTModel

    config = MarianConfig(
        vocab_size=len(tokenizer),
        decoder_vocab_size=len(tokenizer),
        d_model=d_model,
        encoder_layers=layers,
        decoder_layers=layers,
        encoder_attention_heads=heads,
        decoder_attention_heads=heads,
        encoder_ffn_dim=ffn_dim,
        decoder_ffn_dim=ffn_dim,
        max_position_embeddings=max_positions,
        dropout=dropout,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,  # Marian's convention
        forced_eos_token_id=tokenizer.eos_token_id,
        scale_embedding=True,
        share_encoder_decoder_embeddings=True,
    )
    return MarianMTModel(config)


def minilm_encoder_decoder(path: str | None = None):
    """(model, tokenizer): MiniLM as encoder and as decoder (with new cross-attention layers)."""
    from transformers import AutoTokenizer, EncoderDecoderModel

    from ..encoders import resolve_encoder

    path = resolve_encoder(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = EncoderDecoderModel.from_encoder_decoder_pretrained(path, path).float()  # train in float32
    model.config.decoder_start_token_id = tokenizer.cls_token_id
    model.config.eos_token_id = tokenizer.sep_token_id
    model.config.pad_token_id = tokenizer.pad_token_id
    model.config.vocab_size = model.config.decoder.vocab_size
    for config in (model.generation_config,):
        config.decoder_start_token_id = tokenizer.cls_token_id
        config.eos_token_id = tokenizer.sep_token_id
        config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer
