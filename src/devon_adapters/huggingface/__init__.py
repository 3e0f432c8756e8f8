"""The Hugging Face source: search, describe and download models from the Hub.

Registered as the `huggingface` entry point of the `devon.sources` group, like any plugin.
"""

import os

# huggingface_hub reads this once, at import: keep its user agent free of extra probes.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from devon_adapters.huggingface.source import HubSettings, HuggingFaceSource

__all__ = ["HubSettings", "HuggingFaceSource"]
