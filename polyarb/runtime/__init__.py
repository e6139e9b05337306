"""What every polyarb service shares: config, logs, metrics, auth and the gRPC server bootstrap."""
