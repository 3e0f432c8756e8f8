"""`HubPaths`: the vault as the Hub shows a repository (ADR 0215)."""

from collections.abc import Callable
from functools import partial

from devon_core import hub_protocol, use_cases
from devon_core.download_request import DownloadRequest
from devon_core.errors import DevonError, DownloadFailed, about
from devon_core.facade.download_jobs import DownloadJobs
from devon_core.facade.parts import FacadeParts
from devon_core.hub_protocol import FileIdentities, LandedInStaging, ServedFile, ServedModel
from devon_core.jobs import Job
from devon_core.models import LocalModel

PULL_ATTEMPTS = 3
"""Jobs a pull may wait for: a running job it joins may fetch other files than it needs."""
LANDED_LOOK_S = 0.5
"""How often a pull with `landed` looks whether its file has landed in the job's staging."""


class HubPaths:
    """`devon.hub`: the vault's models of the default source as Hub repositories."""

    def __init__(
        self,
        parts: FacadeParts,
        jobs: DownloadJobs,
        identities: FileIdentities | None,
        attempts: int = PULL_ATTEMPTS,
    ) -> None:
        self._parts = parts
        self._jobs = jobs
        self._attempts = attempts
        self.identities = identities
        """Reads the Hub identities of a model's files."""

    def model(self, model_id: str, revision: str = "main", *, pull: bool = False) -> ServedModel:
        """The vault's copy of `model_id` (of the default source) as a Hub repository at
        `revision`: `main`, its commit, or a prefix of it (RevisionNotFound otherwise).
        NotFound when the vault lacks it, unless `pull`: then a model the vault lacks or
        holds only some files of is listed from the upstream source's metadata, merged with
        what the vault holds; no file is downloaded (ADR 0255)."""
        source = self._parts.references.named(None)
        with about(source, model_id):
            return hub_protocol.served_model(
                self._parts.store,
                self._identities(),
                source,
                model_id,
                revision,
                partial(self._parts.source(source).info, model_id) if pull else None,
            )

    def file(
        self,
        model_id: str,
        revision: str,
        path: str,
        *,
        pull: bool = False,
        use: bool = True,
        landed: Callable[[], bool] | None = None,
    ) -> tuple[ServedModel, ServedFile]:
        """File `path` of `model(model_id, revision)`: EntryNotFound when the copy has no
        such file. With `use`, reading it marks the model used. With `pull`, a file the vault
        lacks is downloaded first (that file only), by a job other requests join; with
        `landed` too, the wait for that job ends as soon as `landed()` says the file has
        landed in its staging, verified (LandedInStaging then: the caller sends it from
        there while the job fetches the rest, ADR 0290)."""
        source = self._parts.references.named(None)
        with about(source, model_id):
            return hub_protocol.served_file(
                self._parts.store,
                self._parts.clock,
                self._identities(),
                source,
                model_id,
                revision,
                path,
                partial(self._pull, source, model_id, landed=landed) if pull else None,
                use=use,
            )

    def _pull(
        self,
        source: str,
        model_id: str,
        patterns: tuple[str, ...] | None,
        *,
        landed: Callable[[], bool] | None = None,
    ) -> LocalModel:
        for _ in range(self._attempts):
            request = DownloadRequest(model_id, source=source, include_patterns=patterns)
            job = self._jobs.start(request)
            self._until_finished_or_landed(job, landed).outcome()
            present = self._parts.store.get(source, model_id)
            if present is not None and use_cases.covers(present, patterns, False, job.created_at):
                return present
        raise DownloadFailed(
            f"The vault did not receive {model_id} after {self._attempts} downloads"
        )

    def _until_finished_or_landed(self, job: Job, landed: Callable[[], bool] | None) -> Job:
        """`job` once it has finished; LandedInStaging as soon as `landed()` (the file asked
        for is in the job's staging already)."""
        while landed is not None:
            if landed():
                raise LandedInStaging(
                    f"{job.model_id} is still arriving; the file asked for has landed"
                )
            try:
                return self._jobs.wait(job.id, LANDED_LOOK_S)
            except TimeoutError:
                continue
        return self._jobs.wait(job.id)

    def _identities(self) -> FileIdentities:
        if self.identities is None:
            raise DevonError(
                "This Devon cannot read its files' Hub identities: build it with "
                "devon_app.build_devon()"
            )
        return self.identities
