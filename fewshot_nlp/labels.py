"""What a label reads as to the encoder: the one rule used by zero-shot, the mixture prior and training.

A label's text is its description when it has one, else its humanised name put through a
template ("FindRestaurants" -> "This text is about find restaurants."). Training and the
classifier must agree on it exactly, or meta-training would shape the encoder for texts the
classifier never embeds.
"""

from __future__ import annotations

import re

DEFAULT_TEMPLATE = "This text is about {}."

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def humanise(label) -> str:
    """``"card_arrival"`` -> ``"card arrival"``, ``"FindRestaurants"`` -> ``"find restaurants"``.

    Underscores and dashes become spaces and CamelCase is split; a CamelCase name is lowered
    (its capitals only mark word breaks), other names keep their case.
    """
    text = str(label)
    split = _CAMEL_BOUNDARY.sub(" ", text)
    if split != text:
        split = split.lower()
    return " ".join(split.replace("_", " ").replace("-", " ").split())


def label_text(label, description: str | None = None, template: str = DEFAULT_TEMPLATE) -> str:
    """The text embedded for ``label``: ``description`` if given (non-empty), else the templated name."""
    return description if description else template.format(humanise(label))
