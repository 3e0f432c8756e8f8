"""The reference forms the Hugging Face source reads (ADR 0171), on top of the core's
`owner/name[:QUANT]`:

- a repo URL: `https://huggingface.co/owner/name` (also `/tree/<rev>`, `hf.co/...`, no scheme);
- a file URL: `.../owner/name/resolve/<rev>/<path>` or `.../blob/<rev>/<path>`: that file;
- `hf.co/owner/name:Q4_K_M`, as ollama takes it: that quantisation.

URLs on the configured endpoint's host are read the same way.
"""

from urllib.parse import unquote, urlsplit

from devon_adapters.huggingface.ids import validate_hub_id
from devon_core.errors import InvalidInput
from devon_core.references import ModelReference, parse_reference

HUB_HOSTS = frozenset({"huggingface.co", "www.huggingface.co", "hf.co"})
NOT_MODELS = frozenset({"datasets", "spaces", "collections", "papers", "docs", "blog"})
FILE_VIEWS = frozenset({"resolve", "blob"})
REPO_VIEWS = frozenset({"tree", "commits", "discussions", "commit"})


def parse_hub_reference(text: str, endpoint: str | None = None) -> ModelReference:
    """What `text` names on the Hub whose address is `endpoint`; InvalidInput if it is
    neither a reference nor a Hub URL to a model, or names an id the Hub does not allow."""
    reference = _parse(text, endpoint)
    validate_hub_id(reference.model_id)
    return reference


def _parse(text: str, endpoint: str | None) -> ModelReference:
    stripped = text.strip() if isinstance(text, str) else text
    if not isinstance(stripped, str):
        return parse_reference(stripped)
    hosts = set(HUB_HOSTS)
    if endpoint:
        hosts.add(urlsplit(endpoint).netloc.lower())
    url_text = stripped
    if "://" not in stripped and stripped.split("/", 1)[0].lower() in hosts:
        url_text = f"https://{stripped}"
    if "://" not in url_text:
        return parse_reference(stripped)
    url = urlsplit(url_text)
    if url.netloc.lower() not in hosts and (url.hostname or "") not in hosts:
        raise InvalidInput(f"Not a Hugging Face model URL: {text!r}")
    segments = [unquote(s) for s in url.path.split("/") if s]
    if segments and segments[0] in NOT_MODELS:
        raise InvalidInput(
            f"{text!r} is a Hugging Face {segments[0].rstrip('s')}, not a model: "
            "only models can be downloaded"
        )
    owner_name, rest = _split_repo(segments)
    if not rest:
        return parse_reference("/".join(owner_name))
    view = rest[0]
    if view in FILE_VIEWS:
        if len(rest) < 3:
            raise InvalidInput(
                f"{text!r} names no file: a file URL looks like "
                ".../owner/name/resolve/main/file.gguf"
            )
        model = parse_reference("/".join(owner_name))
        return ModelReference(model.model_id, files=("/".join(rest[2:]),), revision=rest[1])
    if view in REPO_VIEWS:
        return parse_reference("/".join(owner_name))
    raise InvalidInput(f"Not a Hugging Face model URL: {text!r}")


def _split_repo(segments: list[str]) -> tuple[list[str], list[str]]:
    """(`owner`, `name`) and what follows them; a bare legacy id is one segment."""
    if len(segments) >= 2 and segments[1] not in FILE_VIEWS | REPO_VIEWS:
        return segments[:2], segments[2:]
    if segments:
        return segments[:1], segments[1:]
    raise InvalidInput("A Hugging Face URL needs a model: https://huggingface.co/owner/name")
