"""What every polyarb service shares: config, logs, metrics, auth and the gRPC server bootstrap."""

from polyarb.runtime import grpc_core

grpc_core.apply()  # before anything imports grpc: its core reads the setting once, at start
