"""DEVON's pure core: domain types, rules, use cases and the ports adapters implement.

Imports only the standard library, attrs and cattrs.
"""

from devon_core.devon import Devon
from devon_core.errors import (
    DevonError,
    DownloadFailed,
    Forbidden,
    InsufficientStorage,
    InvalidInput,
    InvalidRequest,
    NotFound,
    SourceUnavailable,
    StoreUnavailable,
)
from devon_core.filters import ModelFormat, ParamsFilter, SizeFilter
from devon_core.models import LocalModel, RemoteFile, RemoteModel
from devon_core.ports import Clock, ModelSource, ModelStore, ProgressCallback
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
    ScanResult,
    ScanSkip,
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
    "Devon",
    "DevonError",
    "DownloadFailed",
    "DownloadResult",
    "ExportEntry",
    "ExportFormat",
    "ExportResult",
    "Forbidden",
    "InsufficientStorage",
    "InvalidInput",
    "InvalidRequest",
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
    "ScanResult",
    "ScanSkip",
    "SearchFilters",
    "SearchResult",
    "SizeFilter",
    "SourceUnavailable",
    "SourceUsage",
    "StagingArea",
    "StorageSpace",
    "StorageStatus",
    "StoreUnavailable",
]
