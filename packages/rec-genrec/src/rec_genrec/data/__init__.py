"""Item text, item embeddings, semantic-ID sequences and genrec's ``DatasetFactory``."""
