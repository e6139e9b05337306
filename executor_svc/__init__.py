"""executor_svc: validate, size, sign and post CLOB V2 orders; durable trade results."""
