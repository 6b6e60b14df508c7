"""What users would pick instead of this package, each behind one interface for bench/compare.py (and families.py).

Every method is a callable ``adapt(episode) -> predict``: ``adapt`` learns from the episode's support set (its wall time
is the adaptation time) and ``predict(texts)`` returns one label per text. All run on the embedded all-MiniLM-L6-v2.

- :class:`LogisticRegressionProbe`: scikit-learn's ``LogisticRegression`` (defaults, as in SetFit's head) on frozen,
  normalised sentence embeddings.
- :class:`SetFitMethod`: ``setfit`` with its README defaults (20 iterations of pair sampling, 1 epoch, batch 16,
  logistic-regression head), a fresh body per episode.
- :class:`FineTuning`: ``AutoModelForSequenceClassification`` (BERT pooler + a new linear layer) fully fine-tuned on
  the support set with AdamW at the Transformers default rate (5e-5), batch 16, at least 5 epochs and 30 steps, linear
  decay.
"""

from __future__ import annotations

import math
import random

import torch


class LogisticRegressionProbe:
    def __init__(self, encoder):
        self.encoder = encoder

    def __call__(self, episode):
        from sklearn.linear_model import LogisticRegression

        embeddings = self.encoder.encode(episode.support_texts).numpy()
        probe = LogisticRegression(max_iter=1000).fit(embeddings, episode.support_labels)
        return lambda texts: list(probe.predict(self.encoder.encode(texts).numpy()))


class SetFitMethod:
    def __init__(self, model_path: str, seed: int = 0):
        self.model_path = model_path
        self.seed = seed

    def __call__(self, episode):
        from datasets import Dataset
        from setfit import SetFitModel, Trainer, TrainingArguments
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        model = SetFitModel.from_pretrained(self.model_path)
        arguments = TrainingArguments(
            num_iterations=20,
            num_epochs=1,
            batch_size=16,
            seed=self.seed,
            report_to="none",
            logging_strategy="no",
            save_strategy="no",
            show_progress_bar=False,
        )
        train = Dataset.from_dict({"text": episode.support_texts, "label": episode.support_labels})
        Trainer(model=model, args=arguments, train_dataset=train).train()
        return lambda texts: list(model.predict(texts, batch_size=64, show_progress_bar=False))


class FineTuning:
    def __init__(self, model_path: str, seed: int = 0, lr: float = 5e-5, batch_size: int = 16):
        self.model_path = model_path
        self.seed = seed
        self.lr = lr
        self.batch_size = batch_size

    def __call__(self, episode):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        torch.manual_seed(self.seed)
        classes = list(episode.classes)
        tokenizer = AutoTokenizer.from_pretrained(self.model_path)
        model = AutoModelForSequenceClassification.from_pretrained(self.model_path, num_labels=len(classes))
        targets = [classes.index(label) for label in episode.support_labels]
        per_epoch = math.ceil(len(targets) / self.batch_size)
        steps = max(5 * per_epoch, 30)
        optimizer = torch.optim.AdamW(model.parameters(), lr=self.lr)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / steps)
        order, rng = [], random.Random(self.seed)
        model.train()
        for _ in range(steps):
            if not order:
                order = rng.sample(range(len(targets)), len(targets))
            batch, order = order[: self.batch_size], order[self.batch_size :]
            inputs = tokenizer(
                [episode.support_texts[i] for i in batch],
                padding=True,
                truncation=True,
                max_length=64,
                return_tensors="pt",
            )
            loss = model(**inputs, labels=torch.tensor([targets[i] for i in batch])).loss
            loss.backward()
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
        model.eval()

        @torch.no_grad()
        def predict(texts):
            predictions = []
            for start in range(0, len(texts), 64):
                inputs = tokenizer(
                    texts[start : start + 64], padding=True, truncation=True, max_length=64, return_tensors="pt"
                )
                predictions += [classes[i] for i in model(**inputs).logits.argmax(-1).tolist()]
            return predictions

        return predict
