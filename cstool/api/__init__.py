"""The contract of cstool: the operations table (``operations``) and the abstract
``Backend`` declared from it (``backend``). Front ends, the server and every backend
implementation read the contract here; this package imports no implementation."""
