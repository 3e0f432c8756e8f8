"""The vault's index: the SQLite and PostgreSQL backends, the advisory locks, reservations,
and the copy of an index from one backend to the other."""
