"""The ADRs keep the form ADR/README.md sets: one status line of an allowed form, a title
with the file's number, a superseding ADR that links back, every relative link resolving,
every ADR in the README's index."""

import re
from pathlib import Path

ADR = Path(__file__).resolve().parents[2] / "ADR"
LINK = r"\[\d{4}\]\(\d{4}-[a-z0-9-]+\.md\)"
STATUS = re.compile(rf"Status: (Accepted|Deprecated|Superseded by {LINK}(, {LINK})*)")


def test_every_adr_has_one_status_a_numbered_title_and_links_that_resolve() -> None:
    problems = []
    adrs = sorted(p for p in ADR.glob("*.md") if re.match(r"\d{4}-", p.name))
    for path in adrs:
        lines = path.read_text().splitlines()
        status = [line for line in lines if re.match(r"(#+\s*)?Status\b", line, re.IGNORECASE)]
        if len(status) != 1 or not STATUS.fullmatch(status[0]):
            problems.append(f"{path.name}: status lines {status}")
        for text, target in re.findall(r"\[(\d{4})\]\((\d{4}-[a-z0-9-]+\.md)", " ".join(status)):
            later = ADR / target
            if text != target[:4]:
                problems.append(f"{path.name}: link text {text} names {target}")
            elif later.exists() and f"]({path.name})" not in later.read_text():
                problems.append(f"{target}: does not say it supersedes {path.name}")
        if not lines[0].startswith(f"# {path.name[:4]}: "):
            problems.append(f"{path.name}: title {lines[0]!r}")
    for path in sorted(ADR.glob("*.md")):
        text = re.sub(r"`[^`]*`", "", path.read_text())  # examples in code are not links
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            if not (path.parent / target.split("#")[0]).exists():
                problems.append(f"{path.name}: broken link {target}")
    readme = (ADR / "README.md").read_text()
    missing = [p.name for p in adrs if f"]({p.name})" not in readme]
    problems += [f"README.md: {name} not in the index" for name in missing]
    assert not problems, "\n".join(problems)
