"""``fewshot-nlp meta-train``: meta-training from a YAML config and ``key=value`` overrides."""

from __future__ import annotations

from pathlib import Path

from .inputs import UsageError, input_file


def load_config(cls, config: str | None, overrides: list[str], required: tuple[str, ...] = ()):
    """A config dataclass from a YAML file and ``key=value`` overrides (values parsed as YAML)."""
    import dataclasses

    import yaml

    values = {}
    if config:
        path = Path(config)
        if not path.is_file():
            raise FileNotFoundError(f"no such config file: {path}")
        values = yaml.safe_load(path.read_text()) or {}
        if not isinstance(values, dict):
            raise ValueError(f"{path} must hold a mapping of {cls.__name__} fields.")
    for override in overrides:
        key, sep, value = override.partition("=")
        if not sep:
            raise ValueError(f"override {override!r} must look like key=value, e.g. steps=100.")
        values[key.strip()] = yaml.safe_load(value)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown settings {unknown}; known settings are {sorted(known)}.")
    for name in required:
        if name not in values:
            raise ValueError(f"{name} is not set; add it to the config or pass {name}=...")
    return cls(**values)


def load_training_arguments(config: str | None, overrides: list[str]):
    """Meta-training arguments from a YAML file and ``key=value`` overrides.

    ``problem: translation`` in either selects :class:`TranslationMetaTrainingArguments`;
    otherwise classification's :class:`MetaTrainingArguments`.
    """
    import yaml

    from ..meta import MetaTrainingArguments, TranslationMetaTrainingArguments

    problem = (
        (yaml.safe_load(Path(config).read_text()) or {}).get("problem") if config and Path(config).is_file() else None
    )
    for override in overrides:
        key, _, value = override.partition("=")
        problem = yaml.safe_load(value) if key.strip() == "problem" else problem
    cls = TranslationMetaTrainingArguments if problem == "translation" else MetaTrainingArguments
    return load_config(cls, config, overrides, required=("output_dir",))


def meta_train(args) -> int:
    """Meta-train a LoRA adapter over many episodes (see recipes/configs)."""
    from ..meta import MetaTrainer, TranslationMetaTrainer

    training_args = load_training_arguments(args.config, args.overrides)
    trainer = TranslationMetaTrainer if training_args.problem == "translation" else MetaTrainer
    output = trainer(training_args).train(resume=args.resume)
    print(f"meta-trained model written to {output}")
    return 0


def check_meta_train(args) -> None:
    if args.config:
        input_file(args.config, "--config", (".yaml", ".yml"))
    for override in args.overrides:
        if "=" not in override:
            raise UsageError(f"setting {override!r} must look like key=value, e.g. steps=100.")
