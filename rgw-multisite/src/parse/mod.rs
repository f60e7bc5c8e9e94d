//! Pure parsers for `radosgw-admin` output, one module per command.
