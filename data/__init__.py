"""Files the project writes itself (example sets, label descriptions), shipped as ``fewshot_nlp.data``."""
