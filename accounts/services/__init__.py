"""Business rules of the accounts app. Views and commands call these; nothing else does."""
