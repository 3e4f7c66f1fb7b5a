"""The HTTP API: IBM's Qiskit Runtime routes, IAM, instance discovery and server extras."""
