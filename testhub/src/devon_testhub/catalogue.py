"""What the test hub serves: a catalogue of repos (`devon_testhub.repos`), by default the
one `devon_testhub.default_catalogue` builds."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from devon_testhub.content import filler_file, json_file
from devon_testhub.default_catalogue import build_default_repos
from devon_testhub.repos import Repo, finish_repo, hub_file, sharded_safetensors


class Catalogue:
    """An immutable set of repos, looked up by id. `with_*` methods return a new catalogue."""

    def __init__(self, repos: Iterable[Repo] = ()) -> None:
        self._repos: dict[str, Repo] = {}
        for repo in repos:
            self._repos[repo.id] = repo

    def __iter__(self) -> Iterator[Repo]:
        return iter(self._repos.values())

    def __len__(self) -> int:
        return len(self._repos)

    def __contains__(self, repo_id: object) -> bool:
        return repo_id in self._repos

    def get(self, repo_id: str) -> Repo | None:
        return self._repos.get(repo_id)

    def __getitem__(self, repo_id: str) -> Repo:
        return self._repos[repo_id]

    @property
    def ids(self) -> list[str]:
        return list(self._repos)

    def with_repo(self, repo: Repo) -> Catalogue:
        return Catalogue([*self, finish_repo(repo)])

    def with_large_repo(
        self, repo_id: str = "bench/big-2gb", total_bytes: int = 2 * 1024**3, shards: int = 4
    ) -> Catalogue:
        """Add a sharded safetensors repo of `total_bytes` in all (bytes made on demand)."""
        base, rest = divmod(total_bytes, shards)
        sizes = [base + (1 if i < rest else 0) for i in range(shards)]
        parameters = total_bytes // 2
        files = [
            *sharded_safetensors(repo_id, sizes, parameters),
            hub_file("config.json", json_file({"model_type": "llama", "architectures": ["X"]})),
        ]
        repo = Repo(
            id=repo_id,
            files=tuple(files),
            downloads=1,
            safetensors={"parameters": {"BF16": parameters}, "total": parameters},
            config={"model_type": "llama", "architectures": ["LlamaForCausalLM"]},
            extra_tags=("benchmark",),
        )
        return self.with_repo(repo)

    def with_many_files_repo(
        self,
        repo_id: str = "bench/many-small",
        files: int = 1000,
        file_size: int = 4096,
        folders: int = 10,
    ) -> Catalogue:
        """Add a repo of `files` small LFS files spread over `folders` sub-folders."""
        entries = [
            hub_file(
                f"part-{i % folders:03d}/chunk-{i:05d}.bin",
                filler_file(file_size, f"{repo_id}/{i}"),
            )
            for i in range(files)
        ]
        repo = Repo(id=repo_id, files=tuple(entries), library_name=None, extra_tags=("benchmark",))
        return self.with_repo(repo)

    def warm(self) -> None:
        """Compute every file's sha256 now (large generated files take a moment)."""
        for repo in self:
            for item in repo.files:
                _ = item.oid

    @classmethod
    def default(cls) -> Catalogue:
        return cls(finish_repo(repo) for repo in build_default_repos())
