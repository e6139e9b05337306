"""Generated from proto/polyarb/v1 by `make gen`. Do not edit."""
