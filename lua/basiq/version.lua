-- The SDK's version: the one place it is written. The Makefile builds it
-- into the C core, `make rockspec` into the versioned rockspec.
return "0.1.0"
