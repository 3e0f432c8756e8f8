"""`Quantization`, the value: one quantisation of a GGUF repository. The rules that find
and select them are in `devon_core.quantizations`, which exports it; it sits on its own so
that `devon_core.errors` (whose `ChoiceNeeded` carries them) needs nothing above it."""

import attrs


@attrs.frozen
class Quantization:
    """One quantisation of a GGUF repository: its name, its size and the files it takes."""

    name: str
    size_bytes: int
    files: tuple[str, ...]
