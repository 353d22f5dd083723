"""Resolvers per artifact kind; ``base.py`` is the contract resolve and ``--check`` loop over, ``kinds.py``
puts every kind of lock content (files, images, OS packages and repository keys, wheels, airlock's own
runtime) behind it."""
