"""``python -m fewshot_nlp`` is the ``fewshot-nlp`` command."""

from .cli import main

raise SystemExit(main())
