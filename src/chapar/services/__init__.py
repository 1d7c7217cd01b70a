"""Use cases. check_* validates, do_* mutates, appends to the update log and publishes."""
