"""The vault on disk: the store (`DiskModelStore`), its folders and locks, the manifest,
batched commits, scanning and the import of a DEVON 1.x vault."""
