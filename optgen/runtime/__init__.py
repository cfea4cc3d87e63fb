"""The runtime: hyperparameter checks, buffers, the host stage and kernel launches."""
