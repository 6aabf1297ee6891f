"""Read-only observers of the stack's services, reached over the network with the stack's
client settings (never by importing the platform)."""
