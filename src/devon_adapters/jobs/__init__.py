"""Download jobs: the stores (index, memory), the thread runner and the child-process runner."""
