"""Finding a folder this library saved, locally or on the Hugging Face Hub."""

from __future__ import annotations

import json
from pathlib import Path

CONFIG_NAME = "config.json"  # the Hub counts downloads of this file
LIBRARY_KEY = "fewshot_nlp_version"  # present in the config of every model this library saves


def find_saved_folder(model_id: str, config_name: str, library_key: str, revision, token, cache_dir, local_files_only):
    """The folder of a model this library saved (downloading a Hub repo if needed), or None.

    A folder or repo counts when its ``config_name`` JSON holds ``library_key``; anything else
    (a plain Hugging Face model, an unreachable repo) gives None, so the caller can treat
    ``model_id`` as a base model instead and let that loader explain what is wrong.
    """
    import huggingface_hub

    path = Path(model_id)
    if path.is_dir():
        return path if is_saved_folder(path, config_name, library_key) else None
    if path.exists() or model_id.count("/") > 1 or model_id.startswith((".", "/", "~")):
        raise ValueError(f"{model_id!r} is not a folder; pass a saved model folder or a Hub repo id.")
    options = {"revision": revision, "token": token, "cache_dir": cache_dir, "local_files_only": local_files_only}
    try:
        config_file = huggingface_hub.hf_hub_download(model_id, config_name, **options)
    except Exception:  # not on the Hub, offline, or not a repo
        return None
    if not is_saved_folder(Path(config_file).parent, config_name, library_key):
        return None
    return Path(huggingface_hub.snapshot_download(model_id, **options))


def is_saved_folder(folder: Path, config_name: str, library_key: str) -> bool:
    config = folder / config_name
    if not config.is_file():
        return False
    try:
        return library_key in json.loads(config.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
