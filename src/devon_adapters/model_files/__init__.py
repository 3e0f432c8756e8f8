"""What a model's files are: formats from names, Hub identities (hashes), metadata inferred
from the files alone."""
