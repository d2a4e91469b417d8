"""Query modules per aggregate: plain functions over an open connection (the caller's
unit of work owns the transaction), named for what they do. The only SQL of the core."""
