"""One resolver per artifact kind (files, images), behind the Resolver protocol in base.py."""
