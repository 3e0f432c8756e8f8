"""DEVON's pure core: domain types, rules, use cases and the ports adapters implement.

Imports only the standard library, attrs and cattrs.
"""

from devon_core.devon import Devon
from devon_core.errors import (
    Conflict,
    DevonError,
    DownloadCancelled,
    DownloadFailed,
    Forbidden,
    InsufficientStorage,
    InvalidInput,
    InvalidRequest,
    NotFound,
    SourceUnavailable,
)
from devon_core.filters import ModelFormat, ParamsFilter, SizeFilter
from devon_core.jobs import Job, JobList, JobProgress, JobRequest, JobStatus
from devon_core.models import LocalModel, RemoteFile, RemoteModel
from devon_core.ports import (
    Clock,
    FileProgressCallback,
    JobRunner,
    JobStore,
    ModelSource,
    ModelStore,
    ProgressCallback,
)
from devon_core.results import (
    CleanRequest,
    CleanResult,
    DownloadResult,
    ExportEntry,
    ExportFormat,
    ExportResult,
    ModelInfo,
    ModelList,
    RemoveResult,
    SearchFilters,
    SearchResult,
    SourceUsage,
    StagingArea,
    StorageSpace,
    StorageStatus,
)

__all__ = [
    "CleanRequest",
    "CleanResult",
    "Clock",
    "Conflict",
    "Devon",
    "DevonError",
    "DownloadCancelled",
    "DownloadFailed",
    "DownloadResult",
    "ExportEntry",
    "ExportFormat",
    "ExportResult",
    "FileProgressCallback",
    "Forbidden",
    "InsufficientStorage",
    "InvalidInput",
    "InvalidRequest",
    "Job",
    "JobList",
    "JobProgress",
    "JobRequest",
    "JobRunner",
    "JobStatus",
    "JobStore",
    "LocalModel",
    "ModelFormat",
    "ModelInfo",
    "ModelList",
    "ModelSource",
    "ModelStore",
    "NotFound",
    "ParamsFilter",
    "ProgressCallback",
    "RemoteFile",
    "RemoteModel",
    "RemoveResult",
    "SearchFilters",
    "SearchResult",
    "SizeFilter",
    "SourceUnavailable",
    "SourceUsage",
    "StagingArea",
    "StorageSpace",
    "StorageStatus",
]
