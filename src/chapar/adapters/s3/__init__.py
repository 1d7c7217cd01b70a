"""S3-compatible storage adapters."""
