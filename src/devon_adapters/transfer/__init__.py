"""The source-neutral, resumable, verifying download (ADR 0197): the `Downloader`
(`downloading`: one stream per file; `ranged_fetch`: concurrent ranges of a large file),
its options and retry loop (`retrying`), where a file's partial bytes and their records live
in staging (`staging_layout`), byte spans (`byte_ranges`), the per-process connection slots
(`connection_slots`) and progress with retry notices (`progress`). They know nothing of any
source: a source supplies a `FileServer` (`file_server`): its files' URLs, its streamed
GET, and what its errors mean."""
