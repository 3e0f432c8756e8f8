"""The groups of `Devon`'s surface (ADR 0265): each a small class over the same parts, which
`Devon` exposes as attributes (`devon.vault`, `devon.downloads`, `devon.download_jobs`,
`devon.hub`, `devon.hf_cache`, `devon.maintenance`) and delegates its flat methods to."""
