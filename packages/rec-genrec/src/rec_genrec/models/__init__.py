"""Generative-retrieval models: :class:`~rec_genrec.models.rqvae.RqVae` and :class:`~rec_genrec.models.tiger.Tiger`."""
