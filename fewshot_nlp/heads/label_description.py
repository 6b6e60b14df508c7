"""LabelDescriptionHead: zero-shot classification by matching texts to label descriptions.

Each label is embedded with the same encoder as the texts: its description when one is
given, otherwise its name put through a template ("This text is about card arrival.").
It is a :class:`PrototypeHead` whose classes have no examples yet, so adding examples later
turns the descriptions into a prior instead of throwing them away.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..labels import DEFAULT_TEMPLATE, label_text
from ..labels import humanise as label_to_phrase  # the name this module has always exported
from .prototype import PrototypeHead

__all__ = ["DEFAULT_TEMPLATE", "LabelDescriptionHead", "label_to_phrase"]


class LabelDescriptionHead(PrototypeHead):
    """A prototype head seeded with label descriptions (or templated label names).

    Args:
        template: used for labels without a description; ``{}`` receives the humanised label
            name (see :func:`fewshot_nlp.labels.humanise`).
        **kwargs: as :class:`PrototypeHead`.
    """

    config_keys = (*PrototypeHead.config_keys, "template", "descriptions")

    def __init__(self, embedding_dim: int, template: str = DEFAULT_TEMPLATE, **kwargs):
        if "{}" not in template:
            raise ValueError(f"template={template!r} must contain '{{}}' where the label name goes.")
        descriptions = kwargs.pop("descriptions", [])
        super().__init__(embedding_dim, **kwargs)
        self.template = template
        # [label, text] pairs (not a dict: JSON would turn int labels into strings)
        self.descriptions: list = [list(pair) for pair in descriptions]

    def describe(self, labels: Mapping | list) -> dict:
        """The text to embed for each label: its description, or the templated name."""
        described = labels if isinstance(labels, Mapping) else dict.fromkeys(labels)
        return {label: label_text(label, text, self.template) for label, text in described.items()}

    def add_descriptions(self, encoder, labels: Mapping | list) -> None:
        """Embed one description per label with ``encoder`` (anything with ``encode``); adds new labels."""
        texts = self.describe(labels)
        index = self.add_classes(list(texts))
        self.set_descriptions(encoder.encode(list(texts.values())), index)
        described = dict((label, text) for label, text in self.descriptions) | texts
        self.descriptions = [[label, described[label]] for label in self.classes if label in described]

    @classmethod
    def from_labels(cls, encoder, labels: Mapping | list, **kwargs) -> LabelDescriptionHead:
        """A zero-shot head for ``labels`` (names, or ``{name: description}``)."""
        head = cls(encoder.embedding_dim, **kwargs)
        head.add_descriptions(encoder, labels)
        return head
