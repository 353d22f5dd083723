"""airlock apply: verify a bundle, lay out the site, write offline.yml, optionally push images."""
