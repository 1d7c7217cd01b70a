"""Sans-I/O protocol: wire types, the method table, frames and update-gap rules.

Nothing here opens a socket or a database; both the server and the client library import it.
"""
