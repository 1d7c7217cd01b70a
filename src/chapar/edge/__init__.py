"""The CDN edge (`chapar edge`): a cache of encrypted file parts that never holds a key.

:mod:`chapar.edge.token` is the token format the origin signs and the edge checks;
:mod:`chapar.edge.cache` the disk LRU; :mod:`chapar.edge.server` the HTTP side.
See docs/media.md for the design and its trust model.
"""
