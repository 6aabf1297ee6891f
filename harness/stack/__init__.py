"""Run the stack: the StackDriver protocol, the LocalDriver, service specs and provisioning."""
