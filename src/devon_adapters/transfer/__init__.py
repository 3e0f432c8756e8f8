"""The source-neutral parts of a resumable, verifying download (ADR 0197): where a file's
partial bytes and their records live in staging (`staging_layout`), byte spans
(`byte_ranges`), the per-process connection slots (`connection_slots`) and progress with
retry notices (`progress`). They know nothing of any source; a source supplies the URLs,
headers, expected hashes and its HTTP session."""
